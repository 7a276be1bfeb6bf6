"""Level points and peak/off-hours figures from request samples (stored baseline probes or a probe run)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from o2v.diagnose.histogram import LogHistogram
from o2v.diagnose.models import LevelPoint, PeriodStats
from o2v.store import RequestSample


def _timed_out(sample: RequestSample, timeout_s: float) -> bool:
    return sample.error_kind == "timeout" or (sample.e2e_ms is not None and sample.e2e_ms >= timeout_s * 1000)


def levels_from_samples(samples: Iterable[RequestSample], *, timeout_s: float) -> list[LevelPoint]:
    """Group samples that carry a concurrency level; Little's-law latency from each run's level duration."""
    by_level: dict[int, list[RequestSample]] = defaultdict(list)
    for sample in samples:
        if sample.concurrency:
            by_level[sample.concurrency].append(sample)
    points: list[LevelPoint] = []
    for level, group in sorted(by_level.items()):
        ok = [s for s in group if s.ok and s.e2e_ms is not None]
        lat = sorted(s.e2e_ms for s in ok if s.e2e_ms is not None)
        runs: dict[str | None, list[RequestSample]] = defaultdict(list)
        for s in ok:
            runs[s.run_id].append(s)
        busy_s = 0.0
        for run in runs.values():
            first = min(s.time.timestamp() for s in run)
            last = max(s.time.timestamp() + (s.e2e_ms or 0) / 1000 for s in run)
            busy_s += max(last - first, 0.0)
        little = level * busy_s / len(ok) * 1000 if ok and busy_s > 0 else None
        hist = LogHistogram()
        for value in lat:
            hist.add(value)
        points.append(LevelPoint(
            concurrency=level, requests=len(group), completed=len(ok),
            mean_e2e_ms=sum(lat) / len(lat) if lat else None, p95_e2e_ms=_p95(lat), little_latency_ms=little,
            error_rate=1 - len(ok) / len(group), timeout_rate=sum(_timed_out(s, timeout_s) for s in group) / len(group),
            source="store",
        ))
    return points


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    pos = (len(values) - 1) * 0.95
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def periods_from_samples(
    samples: Iterable[RequestSample], *, timeout_s: float, working_hours: tuple[int, int], working_days: Iterable[int]
) -> tuple[PeriodStats, PeriodStats]:
    """Working hours vs the rest, in the machine's local time (samples are stored in UTC)."""
    days = frozenset(working_days)
    stats = (PeriodStats(), PeriodStats())
    hists = (LogHistogram(), LogHistogram())
    hours: tuple[set[tuple[int, int, int, int]], set[tuple[int, int, int, int]]] = (set(), set())
    for sample in samples:
        local = sample.time.astimezone()
        index = 0 if local.weekday() in days and working_hours[0] <= local.hour < working_hours[1] else 1
        stats[index].requests += 1
        stats[index].timeouts += _timed_out(sample, timeout_s)
        hours[index].add((local.year, local.month, local.day, local.hour))
        if sample.e2e_ms is not None:
            hists[index].add(sample.e2e_ms)
    for index in (0, 1):
        stats[index].p95_e2e_ms = hists[index].percentile(95)
        stats[index].hours_observed = len(hours[index])
    return stats


def level_from_stats(stats: Any, *, timeout_s: float) -> LevelPoint:
    """A LevelPoint from the load generator's LevelStats (duck-typed so this module stays light)."""
    completed = int(stats.completed)
    throughput = float(stats.request_throughput_rps or 0.0)
    timeouts = int(stats.errors_by_kind.get("timeout", 0))
    return LevelPoint(
        concurrency=int(stats.concurrency), requests=int(stats.requests), completed=completed,
        mean_e2e_ms=stats.e2e_ms.mean, p95_e2e_ms=stats.e2e_ms.p95,
        little_latency_ms=stats.concurrency / throughput * 1000 if throughput > 0 and completed else None,
        error_rate=float(stats.error_rate), timeout_rate=timeouts / stats.requests if stats.requests else 0.0,
        source="probe",
    )
