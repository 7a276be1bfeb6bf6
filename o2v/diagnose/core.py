"""``diagnose()``: is the team's problem Ollama's concurrency, something else, or nothing?

Evidence comes from three places, each optional: (a) baseline samples already in the store (the
baseline-monitor flow's probes), (b) Ollama's log (the team's real traffic), (c) a short active probe. The
fit prefers the probe (controlled load), then stored probes, then levels reconstructed from the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from o2v.config import Settings
from o2v.diagnose.evidence import decide, not_concurrency_findings, score_signs
from o2v.diagnose.fit import fit_parallelism, queue_share_at, queue_share_range, timeout_crossing
from o2v.diagnose.logstats import analyse_log
from o2v.diagnose.models import Diagnosis, LevelPoint, LogSummary, PeriodStats, ProbeOutcome
from o2v.diagnose.probe import run_probe
from o2v.diagnose.samples import levels_from_samples, periods_from_samples
from o2v.servers.logs import LogRecord, read_log
from o2v.store import RequestSample, Store, utcnow

MIN_LOG_LEVEL_REQUESTS = 3
MIN_ALONE_REQUESTS = 5  # a log must show this many requests that ran alone before "slow alone" is judged


def diagnose(
    settings: Settings,
    *,
    store: Store | None = None,
    log_path: str | Path | None = None,
    log_records: Iterable[LogRecord] | None = None,
    probe: bool = True,
    url: str | None = None,
    observed: dict[str, bool] | None = None,
    history: timedelta = timedelta(days=14),
) -> Diagnosis:
    d = settings.diagnose
    timeout_s = settings.ollama.timeout_s
    sources: list[str] = []
    notes: list[str] = []

    log: LogSummary | None = None
    if log_records is not None or log_path is not None:
        records = log_records if log_records is not None else read_log(log_path or "-")
        log = analyse_log(records, timeout_s=timeout_s, working_hours=d.working_hours, working_days=d.working_days)
        if not log.format_recognised:
            notes.append(f"the log is not in Ollama's format: {log.unparsed_lines} of {log.lines} lines unparsed, "
                         f"e.g. {log.unparsed_sample[:2]}")
        elif log.inference_requests:
            sources.append(f"log ({log.inference_requests} inference requests)")

    outcome: ProbeOutcome | None = run_probe(settings, url=url, store=store) if probe else None
    if outcome is not None:
        if outcome.ok:
            sources.append(f"probe ({outcome.requests_sent} requests, {outcome.duration_s:.0f} s)")
        if outcome.error:
            notes.append(f"probe: {outcome.error}")

    stored: list[RequestSample] = []
    if store is not None:
        stored = [s for s in store.samples(backend="ollama", since=utcnow() - history)
                  if s.source in ("probe", "log", "gateway") and (outcome is None or s.run_id != outcome.run_id)]
        if stored:
            sources.append(f"store ({len(stored)} baseline samples)")

    levels = _pick_levels(outcome, stored, log, timeout_s)
    fit = fit_parallelism(levels)
    configured = log.configured_num_parallel if log else None

    reference = float(d.reference_concurrency)
    if log is not None and log.p95_in_flight:
        reference = float(max(log.p95_in_flight, 1))
    queue_share: float | None = None
    queue_range: tuple[float, float] | None = None
    if log is not None and log.queue_s_total is not None and log.latency_s_total > 0 \
            and log.inference_requests >= settings.thresholds.min_samples:
        queue_share = round(log.queue_s_total / log.latency_s_total, 4)
    elif fit is not None:
        queue_share = queue_share_at(fit, reference)
        queue_range = queue_share_range(fit, reference)

    peak: PeriodStats | None
    off: PeriodStats | None
    if log is not None and log.inference_requests:
        peak, off = log.peak, log.off_hours
    elif stored:
        peak, off = periods_from_samples(stored, timeout_s=timeout_s, working_hours=d.working_hours,
                                         working_days=d.working_days)
    else:
        peak = off = None

    timeout_rate = abort_rate = None
    if log is not None and log.inference_requests:
        timeout_rate = log.timeouts / log.inference_requests
        abort_rate = log.aborts / log.inference_requests
    elif peak is not None and off is not None and peak.requests + off.requests:
        timeout_rate = (peak.timeouts + off.timeouts) / (peak.requests + off.requests)

    service_ms = fit.service_ms if fit is not None else None
    if service_ms is None and log is not None and log.levels and log.levels[0].concurrency == 1 \
            and log.levels[0].requests >= MIN_ALONE_REQUESTS:
        service_ms = log.isolated_p50_ms
    crossing = timeout_crossing(levels, fit, timeout_s) if levels else None
    loaded_p95 = _loaded_p95(levels, reference, log)
    signs = score_signs(fit=fit, peak=peak, off_hours=off, loaded_p95_ms=loaded_p95, timeout_s=timeout_s,
                        slow_alone_s=d.slow_alone_s, log=log, observed=observed)
    findings = not_concurrency_findings(service_ms=service_ms, slow_alone_s=d.slow_alone_s, log=log,
                                        max_reloads_per_day=d.max_reloads_per_day)
    have_data = fit is not None or bool(log and log.inference_requests) or bool(stored)
    verdict, problem, reasons = decide(
        fit=fit, queue_share=queue_share, queue_share_range=queue_range,
        outgrown_queue_share=settings.thresholds.outgrown_queue_share,
        timeout_crossing=crossing, reference_concurrency=reference, signs=signs, findings=findings,
        timeout_rate=timeout_rate, max_timeout_rate=settings.thresholds.max_timeout_rate, have_data=have_data,
    )
    if fit is not None and configured:
        reasons.append(f"OLLAMA_NUM_PARALLEL is {configured} in the server config line; measured "
                       f"{fit.effective_parallelism:g}")
    reasons.extend(notes)
    return Diagnosis(
        verdict=verdict, problem=problem, reasons=reasons,
        effective_parallelism=fit.effective_parallelism if fit else None,
        effective_parallelism_slots=fit.slots if fit else None,
        parallelism_is_lower_bound=fit.lower_bound if fit else False,
        effective_parallelism_low=fit.effective_parallelism_low if fit else None,
        effective_parallelism_high=fit.effective_parallelism_high if fit else None,
        plausible_slots=list(fit.plausible_slots) if fit else [],
        parallelism_confidence=fit.confidence if fit else None, queue_share_range=queue_range,
        configured_num_parallel=configured, fit=fit, levels=levels, client_timeout_s=timeout_s,
        timeout_crossing_concurrency=crossing, reference_concurrency=reference, queue_share=queue_share,
        service_ms=service_ms, peak=peak, off_hours=off, timeout_rate=timeout_rate, abort_rate=abort_rate,
        developer_hours_lost_per_week=_hours_lost(log, d.working_hours, len(d.working_days)),
        signs=signs, signs_present=sum(s.status == "present" for s in signs), findings=findings, log=log,
        probe=outcome, evidence_sources=sources,
    )


def _pick_levels(outcome: ProbeOutcome | None, stored: list[RequestSample], log: LogSummary | None,
                 timeout_s: float) -> list[LevelPoint]:
    if outcome is not None and outcome.ok and len(outcome.levels) >= 2:
        return outcome.levels
    from_store = levels_from_samples((s for s in stored if s.source == "probe"), timeout_s=timeout_s)
    if len(from_store) >= 2:
        return from_store
    if log is not None:
        from_log = [p for p in log.levels if p.requests >= MIN_LOG_LEVEL_REQUESTS]
        if len(from_log) >= 2:
            return from_log
    return outcome.levels if outcome is not None and outcome.ok else from_store


def _loaded_p95(levels: list[LevelPoint], reference: float, log: LogSummary | None) -> float | None:
    if log is not None and log.peak.p95_e2e_ms is not None:
        return log.peak.p95_e2e_ms
    at_or_above = sorted(
        (p for p in levels if p.concurrency >= reference and p.p95_e2e_ms), key=lambda p: p.concurrency
    )
    if at_or_above:
        return at_or_above[0].p95_e2e_ms
    below = [p.p95_e2e_ms for p in levels if p.p95_e2e_ms]
    return max(below) if below else None


def _hours_lost(log: LogSummary | None, working_hours: tuple[int, int], working_days: int) -> float | None:
    """Queueing seconds per observed hour, scaled to a week's working and off hours."""
    if log is None or log.queue_s_total is None:
        return None
    weekly_peak_h = max(working_hours[1] - working_hours[0], 0) * working_days
    weekly_off_h = 168 - weekly_peak_h
    total = 0.0
    for period, weekly in ((log.peak, weekly_peak_h), (log.off_hours, weekly_off_h)):
        if period.hours_observed and period.queue_s:
            total += period.queue_s / period.hours_observed * weekly
    return round(total / 3600, 2)
