"""Turning raw request records into the figures a migration is judged on.

Definitions (docs/loadgen.md has the long form):
  TTFT   send -> first streamed content token          E2E   send -> last byte of the response
  ITL    gap between consecutive content chunks         TPOT  (E2E - TTFT) / (output tokens - 1)
  output tokens: the server's usage count, else the number of content chunks
  request throughput = completed / level duration; output tokens/s = sum(output tokens) / level duration
  goodput = completed requests per second that met every configured SLO (TTFT, TPOT, E2E)
  client queue = actual send time - intended send time (a busy client shows up here, not as server latency)
Percentiles interpolate linearly between order statistics (numpy's default, as vLLM bench and GuideLLM do).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from o2v.loadgen.protocol import Record
from o2v.loadgen.workload import Workload
from o2v.store import LoadTestRunRecord, RequestSample

CLIENT_LAG_WARN_MS = 25.0
CLIENT_LAG_MEDIAN_WARN_MS = 5.0


class Percentiles(BaseModel):
    """Summary of one metric over a level; all None when nothing was measured."""

    n: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Percentiles:
        if not values:
            return cls()
        data = sorted(values)
        return cls(
            n=len(data),
            mean=math.fsum(data) / len(data),
            median=percentile(data, 50),
            p90=percentile(data, 90),
            p95=percentile(data, 95),
            p99=percentile(data, 99),
            max=data[-1],
        )


def percentile(sorted_data: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks; ``sorted_data`` must be sorted and non-empty."""
    if len(sorted_data) == 1:
        return float(sorted_data[0])
    pos = (len(sorted_data) - 1) * pct / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(sorted_data) - 1)
    return float(sorted_data[low] + (sorted_data[high] - sorted_data[low]) * (pos - low))


class LevelStats(BaseModel):
    """Figures for one load level (a concurrency or an arrival rate)."""

    concurrency: int = Field(..., description="Slots in flight (concurrency mode) or peak in flight (rate mode).")
    rate_rps: float | None = Field(None, description="Target arrival rate in rate mode.")
    requests: int = Field(..., description="Requests sent and finished (successfully or not) at this level.")
    completed: int
    failed: int
    error_rate: float
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    duration_s: float
    request_throughput_rps: float
    output_tokens_total: int
    output_tokens_per_s: float
    goodput_rps: float | None = Field(None, description="None when no SLO was given.")
    ttft_ms: Percentiles
    itl_ms: Percentiles
    tpot_ms: Percentiles
    e2e_ms: Percentiles
    client_queue_ms: Percentiles = Field(..., description="Intended -> actual send time: the client's own delay.")
    loop_lag_ms: Percentiles = Field(..., description="Event-loop lag sampled during the level.")
    token_counts_from: str = Field("usage", description="'usage' (server counts), 'chunks' (counted), or 'mixed'.")
    interrupted: bool = False
    client_bound: bool = Field(False, description="True when the client's own delays were large enough to matter.")


class LoadTestResult(BaseModel):
    run_id: str
    workload: Workload
    levels: list[LevelStats] = Field(default_factory=list)
    samples: list[RequestSample] = Field(default_factory=list)
    interrupted: bool = False
    warnings: list[str] = Field(default_factory=list)
    started: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None

    def summary(self) -> dict[str, object]:
        """Compact per-level figures (for the store's run table and Slack)."""
        return {
            "interrupted": self.interrupted,
            "levels": [
                level.model_dump(exclude={"ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "client_queue_ms", "loop_lag_ms"})
                | {
                    "p95_e2e_ms": level.e2e_ms.p95,
                    "p50_ttft_ms": level.ttft_ms.median,
                    "p95_ttft_ms": level.ttft_ms.p95,
                }
                for level in self.levels
            ],
        }

    def run_record(self) -> LoadTestRunRecord:
        return LoadTestRunRecord(
            run_id=self.run_id,
            started=self.started,
            finished=self.finished,
            backend=self.workload.backend,
            url=self.workload.url,
            model=self.workload.model,
            mode=self.workload.mode,
            summary=self.summary(),
        )


def output_tokens(record: Record) -> int:
    return record.usage_tokens if record.usage_tokens is not None else len(record.token_times)


def level_stats(
    workload: Workload,
    concurrency: int,
    rate: float | None,
    records: list[Record],
    lags_ms: list[float],
    *,
    interrupted: bool = False,
) -> LevelStats:
    """Aggregate one level. Duration runs from the first send to the last finish, as a user would time it."""
    done = [r for r in records if r.end_s > 0]
    ok = [r for r in done if r.ok]
    duration = (max(r.end_s for r in done) - min(r.start_s for r in done)) if done else 0.0
    ttft: list[float] = []
    itl: list[float] = []
    tpot: list[float] = []
    e2e: list[float] = []
    tokens_total = good = 0
    sources: set[str] = set()
    for r in ok:
        e2e_ms = (r.end_s - r.start_s) * 1000.0
        e2e.append(e2e_ms)
        tokens = output_tokens(r)
        tokens_total += tokens
        sources.add("usage" if r.usage_tokens is not None else "chunks")
        ttft_ms = tpot_ms = None
        if r.token_times:
            ttft_ms = (r.first_token_s - r.start_s) * 1000.0
            ttft.append(ttft_ms)
            times = r.token_times
            itl.extend((times[i] - times[i - 1]) * 1000.0 for i in range(1, len(times)))
            if tokens > 1:
                tpot_ms = (r.end_s - r.first_token_s) * 1000.0 / (tokens - 1)
                tpot.append(tpot_ms)
        if _meets_slo(workload, ttft_ms, tpot_ms, e2e_ms):
            good += 1
    errors = Counter(r.error_kind for r in done if r.error_kind)
    queue = [max(0.0, (r.start_s - r.intended_s) * 1000.0) for r in done]
    has_slo = any(v is not None for v in (workload.slo_ttft_ms, workload.slo_tpot_ms, workload.slo_e2e_ms))
    lag = Percentiles.of(lags_ms)
    queue_stats = Percentiles.of(queue)
    # A saturated client shows steady lag; one OS hiccup on a shared machine does not make it client-bound.
    client_bound = (
        (lag.median or 0.0) > CLIENT_LAG_MEDIAN_WARN_MS
        or (lag.p95 or 0.0) > CLIENT_LAG_WARN_MS
        or (workload.mode == "concurrency" and (queue_stats.median or 0.0) > CLIENT_LAG_WARN_MS)
    )
    peak = concurrency if rate is None else _peak_in_flight(done)
    return LevelStats(
        concurrency=peak,
        rate_rps=rate,
        requests=len(done),
        completed=len(ok),
        failed=len(done) - len(ok),
        error_rate=(len(done) - len(ok)) / len(done) if done else 0.0,
        errors_by_kind=dict(errors),
        duration_s=duration,
        request_throughput_rps=len(ok) / duration if duration > 0 else 0.0,
        output_tokens_total=tokens_total,
        output_tokens_per_s=tokens_total / duration if duration > 0 else 0.0,
        goodput_rps=(good / duration if duration > 0 else 0.0) if has_slo else None,
        ttft_ms=Percentiles.of(ttft),
        itl_ms=Percentiles.of(itl),
        tpot_ms=Percentiles.of(tpot),
        e2e_ms=Percentiles.of(e2e),
        client_queue_ms=queue_stats,
        loop_lag_ms=lag,
        token_counts_from=sources.pop() if len(sources) == 1 else ("mixed" if sources else "usage"),
        interrupted=interrupted,
        client_bound=client_bound,
    )


def _meets_slo(workload: Workload, ttft_ms: float | None, tpot_ms: float | None, e2e_ms: float) -> bool:
    if workload.slo_e2e_ms is not None and e2e_ms > workload.slo_e2e_ms:
        return False
    if workload.slo_ttft_ms is not None and (ttft_ms is None or ttft_ms > workload.slo_ttft_ms):
        return False
    return not (workload.slo_tpot_ms is not None and tpot_ms is not None and tpot_ms > workload.slo_tpot_ms)


def _peak_in_flight(records: list[Record]) -> int:
    events = sorted([(r.start_s, 1) for r in records] + [(r.end_s, -1) for r in records])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def to_sample(workload: Workload, run_id: str, concurrency: int, record: Record) -> RequestSample:
    """The store's view of one request: what the GX suites and the diagnosis read."""
    ok = record.ok
    return RequestSample(
        time=datetime.fromtimestamp(record.wall_time, UTC),
        source=workload.source,
        backend=workload.backend,
        client=workload.client,
        model=workload.model,
        status=record.status,
        ttft_ms=(record.first_token_s - record.start_s) * 1000.0 if ok and record.token_times else None,
        e2e_ms=(record.end_s - record.start_s) * 1000.0 if record.end_s > 0 else None,
        output_tokens=output_tokens(record) if ok else None,
        error_kind=record.error_kind,
        run_id=run_id,
        concurrency=concurrency,
    )
