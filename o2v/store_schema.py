"""The store's records (pydantic, what callers see) and tables (SQLAlchemy, what the database holds).

Kept apart from :mod:`o2v.store` so the schema can be read on one screen. Import these names from
``o2v.store``; they are re-exported there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Source = Literal["probe", "loadtest", "gateway", "log", "smoke"]
Backend = Literal["ollama", "vllm"]
PhaseStatus = Literal["running", "succeeded", "failed", "skipped"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC: naive values are taken as UTC, aware ones converted.

    SQLite keeps no offset, so everything must be stored in one zone for time comparisons to hold.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class RequestSample(BaseModel):
    """One request as seen by a client, a probe, the gateway or Ollama's access log."""

    time: datetime = Field(default_factory=utcnow, description="When the request was sent (UTC).")
    source: Source
    backend: Backend
    client: str = ""
    model: str = ""
    status: int = Field(200, description="HTTP status; 0 when no response arrived (timeout, refused).")
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    output_tokens: int | None = None
    error_kind: str | None = Field(None, description="None when OK; else e.g. http_503, timeout, disconnect.")
    run_id: str | None = Field(None, description="Load-test run or probe sweep this sample belongs to.")
    concurrency: int | None = Field(None, description="Concurrency level the request was sent at, when known.")
    api: str | None = Field(None, description="API the client used through the gateway: 'native' or 'openai'.")

    @property
    def ok(self) -> bool:
        return self.error_kind is None and 200 <= self.status < 400


class LoadTestRunRecord(BaseModel):
    run_id: str
    started: datetime = Field(default_factory=utcnow)
    finished: datetime | None = None
    backend: Backend
    url: str
    model: str
    mode: str = "concurrency"
    summary: dict[str, Any] = Field(default_factory=dict)


class LedgerEntry(BaseModel):
    migration_id: str
    phase: str
    status: PhaseStatus
    config_hash: str
    result: dict[str, Any] | None = None
    started: datetime
    finished: datetime | None = None
    error: str | None = None


class AuditEntry(BaseModel):
    time: datetime = Field(default_factory=utcnow)
    actor: str
    action: str
    target: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class Base(DeclarativeBase):
    pass


class SampleRow(Base):
    __tablename__ = "samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source: Mapped[str] = mapped_column(String(16))
    backend: Mapped[str] = mapped_column(String(16))
    client: Mapped[str] = mapped_column(String(255), default="")
    model: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[int] = mapped_column(Integer)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    e2e_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    concurrency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    api: Mapped[str | None] = mapped_column(String(16), nullable=True)

    __table_args__ = (Index("ix_samples_source_backend_time", "source", "backend", "time"),)


class LoadTestRunRow(Base):
    __tablename__ = "loadtest_runs"
    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    backend: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(512))
    model: Mapped[str] = mapped_column(String(255))
    mode: Mapped[str] = mapped_column(String(32))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class LedgerRow(Base):
    __tablename__ = "phase_ledger"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    migration_id: Mapped[str] = mapped_column(String(64), index=True)
    phase: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    config_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditRow(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class StateRow(Base):
    """Small named state that must survive between flow runs (e.g. 'outgrown alert already sent')."""

    __tablename__ = "state"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RouteRow(Base):
    """The gateway's route for one named client; a client without a row is on Ollama."""

    __tablename__ = "gateway_routes"
    client: Mapped[str] = mapped_column(String(255), primary_key=True)
    backend: Mapped[str] = mapped_column(String(16))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RoutingStateRow(Base):
    """One row (id 1): the share of unnamed clients on vLLM and a version bumped by every routing change.

    Gateway replicas poll only ``version`` (one tiny read) and reload the routes when it moved.
    """

    __tablename__ = "gateway_routing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    percent: Mapped[float] = mapped_column(Float)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
