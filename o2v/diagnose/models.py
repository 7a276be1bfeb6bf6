"""Typed results of the concurrency diagnosis (units in every field name)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from o2v.store import utcnow

Verdict = Literal["migrate", "stay", "inconclusive"]
Confidence = Literal["high", "medium", "low"]
Problem = Literal["concurrency", "hardware_or_model_size", "keep_alive_reloads", "none", "unknown"]


class LevelPoint(BaseModel):
    """Latency at one concurrency level, from a probe, stored samples or reconstructed from a log."""

    concurrency: int = Field(ge=1)
    requests: int = Field(ge=0)
    completed: int = Field(ge=0)
    mean_e2e_ms: float | None = None
    p95_e2e_ms: float | None = None
    little_latency_ms: float | None = Field(
        None, description="concurrency / throughput: the steady-state latency Little's law gives for a closed loop."
    )
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    source: Literal["probe", "store", "log"] = "probe"

    @property
    def latency_ms(self) -> float | None:
        """The figure the fit uses: Little's-law latency when the level's duration is known, else the mean."""
        return self.little_latency_ms if self.little_latency_ms is not None else self.mean_e2e_ms


class ParallelismFit(BaseModel):
    """latency(c) = service_ms * max(1, c / k), fitted by least squares; k is the effective parallelism."""

    effective_parallelism: float
    slots: int = Field(description="effective_parallelism rounded to a whole number of slots (>= 1).")
    service_ms: float = Field(description="Latency of one request alone (the fitted plateau).")
    r_squared: float
    lower_bound: bool = Field(
        description="True when no measured level went beyond the knee: the server has at least this many slots."
    )
    throughput_parallelism: float | None = Field(
        None, description="Cross-check: peak throughput x latency alone (Little's law), independent of the fit."
    )
    points_used: int
    effective_parallelism_low: float | None = Field(None, description="Lower end of the 95% interval on k.")
    effective_parallelism_high: float | None = Field(
        None, description="Upper end of the 95% interval on k; None when no level went past it (open-ended)."
    )
    slot_probabilities: dict[int, float] = Field(
        default_factory=dict, description="Normalised likelihood of each whole slot count up to the top level."
    )
    plausible_slots: list[int] = Field(
        default_factory=list, description="Smallest set of slot counts holding 95% of that likelihood."
    )
    relative_noise: float | None = Field(None, description="Relative timing noise the likelihood used (sigma).")
    whole_slots: bool = Field(
        True, description="False when no whole slot count lies in the 95% interval: not k independent slots."
    )
    confidence: Confidence = Field("low", description="high: one slot count; medium: two neighbours; low: wider.")

    def describe(self) -> str:
        """'2 (95%: 1.87-2.12; slots 2; confidence high)', 'at least 4 (...)' for a lower bound."""
        bound = "at least " if self.lower_bound else ""
        if self.effective_parallelism_low is None:
            return f"{bound}{self.effective_parallelism:g}"
        open_ended = self.effective_parallelism_high is None
        high = "open" if open_ended else f"{self.effective_parallelism_high:g}"
        slots = ", ".join(str(s) for s in self.plausible_slots) + ("+" if open_ended else "")
        shared = "" if self.whole_slots else "; not whole slots: they share compute or clients pause"
        return (f"{bound}{self.effective_parallelism:g} (95%: {self.effective_parallelism_low:g}-{high}; "
                f"slots {slots}; confidence {self.confidence}{shared})")


class PeriodStats(BaseModel):
    """Traffic in working hours (peak) or outside them, from a log or stored samples."""

    requests: int = 0
    timeouts: int = 0
    p95_e2e_ms: float | None = None
    hours_observed: int = Field(0, description="Distinct clock hours with at least one request.")
    queue_s: float | None = Field(None, description="Estimated seconds spent waiting for a slot.")

    @property
    def timeout_rate(self) -> float | None:
        return self.timeouts / self.requests if self.requests else None


class LogSummary(BaseModel):
    """What a pass over an Ollama log found; built in constant memory."""

    lines: int = 0
    access_records: int = 0
    app_records: int = 0
    unparsed_lines: int = Field(0, description="Lines in no Ollama format (llama.cpp output is not counted).")
    noise_lines: int = 0
    unparsed_sample: list[str] = Field(default_factory=list)
    format_recognised: bool = True
    inference_requests: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    server_config: dict[str, str] = Field(default_factory=dict)
    configured_num_parallel: int | None = None
    keep_alive_s: float | None = None
    status_counts: dict[str, int] = Field(default_factory=dict)
    timeouts: int = Field(0, description="Inference requests that took at least the client timeout.")
    aborts: int = Field(0, description="Requests the client abandoned (abort messages or status 499).")
    model_loads: int = 0
    model_load_s_total: float = 0.0
    reloads_after_idle: int = Field(0, description="Loads that followed an idle gap >= OLLAMA_KEEP_ALIVE.")
    isolated_p50_ms: float | None = Field(None, description="Median latency of requests that ran alone.")
    latency_s_total: float = 0.0
    queue_s_total: float | None = None
    max_in_flight: int = 0
    p95_in_flight: int | None = None
    max_clients_in_flight: int = 0
    distinct_clients: int = 0
    peak: PeriodStats = Field(default_factory=PeriodStats)
    off_hours: PeriodStats = Field(default_factory=PeriodStats)
    levels: list[LevelPoint] = Field(default_factory=list)

    @property
    def window_h(self) -> float | None:
        if self.first_time is None or self.last_time is None:
            return None
        return max((self.last_time - self.first_time).total_seconds() / 3600, 0.0)


class ProbeOutcome(BaseModel):
    attempted: bool = False
    ok: bool = False
    error: str | None = None
    run_id: str | None = None
    model: str | None = None
    requests_sent: int = 0
    duration_s: float = 0.0
    levels: list[LevelPoint] = Field(default_factory=list)


class Sign(BaseModel):
    """One of the seed guide's "signs you've outgrown Ollama", scored with the evidence behind it."""

    id: str
    title: str
    status: Literal["present", "absent", "unknown"]
    score: float = Field(ge=0, le=1)
    evidence: list[str] = Field(default_factory=list)


class Finding(BaseModel):
    """A cause that is not concurrency: migrating to vLLM would not fix it."""

    kind: Literal["slow_at_concurrency_1", "keep_alive_reloads"]
    evidence: str
    fix: str


class Diagnosis(BaseModel):
    verdict: Verdict
    problem: Problem
    reasons: list[str]
    effective_parallelism: float | None = None
    effective_parallelism_slots: int | None = None
    parallelism_is_lower_bound: bool = False
    effective_parallelism_low: float | None = Field(None, description="95% interval on k, lower end.")
    effective_parallelism_high: float | None = Field(None, description="95% interval on k, upper end (None: open).")
    plausible_slots: list[int] = Field(default_factory=list, description="Slot counts holding 95% of the likelihood.")
    parallelism_confidence: Confidence | None = None
    queue_share_range: tuple[float, float] | None = Field(
        None, description="Queueing share across the interval on k, when the share comes from the fit."
    )
    configured_num_parallel: int | None = None
    fit: ParallelismFit | None = None
    levels: list[LevelPoint] = Field(default_factory=list)
    client_timeout_s: float
    timeout_crossing_concurrency: int | None = Field(
        None, description="Lowest concurrency at which p95 latency reaches the client timeout."
    )
    reference_concurrency: float = Field(description="Concurrency the queueing share is quoted at.")
    queue_share: float | None = Field(None, description="Share of latency spent waiting for a slot (0..1).")
    service_ms: float | None = None
    peak: PeriodStats | None = None
    off_hours: PeriodStats | None = None
    timeout_rate: float | None = None
    abort_rate: float | None = None
    developer_hours_lost_per_week: float | None = None
    signs: list[Sign] = Field(default_factory=list)
    signs_present: int = 0
    findings: list[Finding] = Field(default_factory=list)
    log: LogSummary | None = None
    probe: ProbeOutcome | None = None
    evidence_sources: list[str] = Field(default_factory=list)
    created: datetime = Field(default_factory=utcnow)

    def to_markdown(self) -> str:
        """Headings and tables for the Prefect UI's artifact (o2v.diagnose.report writes it)."""
        from o2v.diagnose.report import to_markdown

        return to_markdown(self)
