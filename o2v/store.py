"""The results store: request samples, load-test runs, the phase ledger and the audit log.

SQLAlchemy 2 over any URL; the default is a SQLite file under ``.o2v/`` in WAL mode so that readers (the
Prefect UI's artifacts, ``o2v diagnose``) never block the writers. Samples arrive from many coroutines at once
(the load generator, the gateway); ``SampleWriter`` batches them so that no row is lost and the database sees a
few large inserts instead of thousands of small ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from o2v.errors import StoreError

Source = Literal["probe", "loadtest", "gateway", "log", "smoke"]
Backend = Literal["ollama", "vllm"]
PhaseStatus = Literal["running", "succeeded", "failed", "skipped"]


def utcnow() -> datetime:
    return datetime.now(UTC)


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


_SAMPLE_COLUMNS = tuple(RequestSample.model_fields)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes even for timezone=True columns; everything in o2v is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Store:
    """All database access goes through here."""

    def __init__(self, url: str, *, batch_size: int = 500) -> None:
        self.url = url
        self.batch_size = batch_size
        self.engine = _make_engine(url)
        try:
            Base.metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the results store at {_safe(url)}: {exc.__class__.__name__}: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        return cls(settings.store.url, batch_size=settings.store.batch_size)

    def close(self) -> None:
        self.engine.dispose()

    # -- samples ----------------------------------------------------------------------------------------------
    def add_samples(self, samples: Iterable[RequestSample]) -> int:
        rows = [s.model_dump() for s in samples]
        for start in range(0, len(rows), self.batch_size):
            self._execute(insert(SampleRow), rows[start : start + self.batch_size])
        return len(rows)

    def samples(
        self,
        *,
        source: str | Sequence[str] | None = None,
        backend: str | None = None,
        run_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[RequestSample]:
        query = select(SampleRow).order_by(SampleRow.time, SampleRow.id)
        if source is not None:
            sources = [source] if isinstance(source, str) else list(source)
            query = query.where(SampleRow.source.in_(sources))
        if backend is not None:
            query = query.where(SampleRow.backend == backend)
        if run_id is not None:
            query = query.where(SampleRow.run_id == run_id)
        if since is not None:
            query = query.where(SampleRow.time >= since)
        if until is not None:
            query = query.where(SampleRow.time < until)
        if limit is not None:
            query = query.limit(limit)
        with self._session() as conn:
            rows = conn.execute(query).scalars().all()
        return [
            RequestSample.model_validate({c: getattr(r, c) for c in _SAMPLE_COLUMNS} | {"time": _aware(r.time)})
            for r in rows
        ]

    def count_samples(self, **filters: Any) -> int:
        return len(self.samples(**filters))

    def writer(self, *, flush_interval_s: float = 0.5) -> SampleWriter:
        return SampleWriter(self, flush_interval_s=flush_interval_s)

    # -- load-test runs ---------------------------------------------------------------------------------------
    def save_run(self, run: LoadTestRunRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(LoadTestRunRow.__table__.delete().where(LoadTestRunRow.run_id == run.run_id))
            conn.execute(insert(LoadTestRunRow), [run.model_dump(mode="json") | _times(run)])

    def runs(self) -> list[LoadTestRunRecord]:
        with self._session() as conn:
            rows = conn.execute(select(LoadTestRunRow).order_by(LoadTestRunRow.started)).scalars().all()
        return [
            LoadTestRunRecord(
                run_id=r.run_id, started=_aware(r.started) or utcnow(), finished=_aware(r.finished),
                backend=r.backend, url=r.url, model=r.model, mode=r.mode, summary=r.summary,  # type: ignore[arg-type]
            )
            for r in rows
        ]

    # -- phase ledger -----------------------------------------------------------------------------------------
    def phase_started(self, migration_id: str, phase: str, config_hash: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(LedgerRow).values(
                    migration_id=migration_id, phase=phase, status="running", config_hash=config_hash,
                    started=utcnow(),
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def phase_finished(
        self, entry_id: int, status: PhaseStatus, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        payload = json.loads(json.dumps(result, default=str)) if result is not None else None
        with self.engine.begin() as conn:
            conn.execute(
                update(LedgerRow)
                .where(LedgerRow.id == entry_id)
                .values(status=status, result=payload, error=error, finished=utcnow())
            )

    def ledger(self, migration_id: str) -> list[LedgerEntry]:
        with self._session() as conn:
            rows = conn.execute(
                select(LedgerRow).where(LedgerRow.migration_id == migration_id).order_by(LedgerRow.id)
            ).scalars().all()
        return [
            LedgerEntry(
                migration_id=r.migration_id, phase=r.phase, status=r.status,  # type: ignore[arg-type]
                config_hash=r.config_hash, result=r.result, started=_aware(r.started) or utcnow(),
                finished=_aware(r.finished), error=r.error,
            )
            for r in rows
        ]

    def last_success(self, migration_id: str, phase: str, config_hash: str) -> LedgerEntry | None:
        """The phase's success under the same configuration, if it is still the latest finished outcome.

        A later failure (e.g. the deploy was rolled back after validation failed) cancels an earlier success,
        so a re-run does the phase again. Rows still 'running' (a killed run) decide nothing.
        """
        for entry in reversed(self.ledger(migration_id)):
            if entry.phase != phase or entry.config_hash != config_hash or entry.status == "running":
                continue
            return entry if entry.status == "succeeded" else None
        return None

    def invalidate_phase(self, migration_id: str, phase: str, config_hash: str, reason: str) -> None:
        """Record that a phase's earlier success no longer holds (its effect was undone)."""
        entry_id = self.phase_started(migration_id, phase, config_hash)
        self.phase_finished(entry_id, "failed", error=reason)

    # -- audit log and small state ----------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None:
        entry = AuditEntry(actor=actor, action=action, target=target, detail=detail or {})
        self._execute(insert(AuditRow), [entry.model_dump(mode="json") | {"time": entry.time}])

    def audit_log(self) -> list[AuditEntry]:
        with self._session() as conn:
            rows = conn.execute(select(AuditRow).order_by(AuditRow.id)).scalars().all()
        return [
            AuditEntry(time=_aware(r.time) or utcnow(), actor=r.actor, action=r.action, target=r.target, detail=r.detail)
            for r in rows
        ]

    def get_state(self, key: str) -> dict[str, Any] | None:
        with self._session() as conn:
            row = conn.get(StateRow, key)
            return dict(row.value) if row is not None else None

    def set_state(self, key: str, value: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(StateRow.__table__.delete().where(StateRow.key == key))
            conn.execute(insert(StateRow).values(key=key, value=value, updated=utcnow()))

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _execute(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(statement, rows)
        except SQLAlchemyError as exc:
            raise StoreError(f"writing to {_safe(self.url)} failed: {exc.__class__.__name__}: {exc}") from exc

    def _session(self) -> Any:
        from sqlalchemy.orm import Session

        return Session(self.engine)


def _times(run: LoadTestRunRecord) -> dict[str, Any]:
    return {"started": run.started, "finished": run.finished}


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # psycopg (3) is what o2v installs; accept plain postgresql:// URLs for it.
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


class SampleWriter:
    """Collects samples from many coroutines and writes them in batches from a worker thread.

    ``add`` never blocks on the database; ``flush``/``aclose`` wait until every queued sample is committed.
    """

    def __init__(self, store: Store, *, flush_interval_s: float = 0.5) -> None:
        self.store = store
        self.flush_interval_s = flush_interval_s
        self._pending: list[RequestSample] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    async def __aenter__(self) -> SampleWriter:
        self._task = asyncio.create_task(self._periodic())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def add(self, sample: RequestSample) -> None:
        self._pending.append(sample)

    async def flush(self) -> int:
        async with self._lock:
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await asyncio.to_thread(self.store.add_samples, batch)
                except BaseException:
                    self._pending[:0] = batch  # keep them for the next try: nothing is lost silently
                    raise
                self.written += len(batch)
            return len(batch)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            if len(self._pending) > 0:
                await self.flush()
