"""Effective parallelism from latency against concurrency.

A server with ``k`` slots and service time ``S`` keeps every request at ``S`` while ``c <= k`` and, beyond
that, makes each one wait for ``c - k`` others: in a closed loop the steady-state latency is
``S * max(1, c / k)`` (Little's law: ``c = throughput * latency`` and the throughput is ``min(c, k) / S``).
Fitting that knee to the measured levels gives ``k`` without trusting ``OLLAMA_NUM_PARALLEL``, which says
what was asked for, not what the model, the memory and the version really granted.
"""

from __future__ import annotations

import math

from o2v.diagnose.models import LevelPoint, ParallelismFit

_K_STEP = 0.01


def _model(service: float, k: float, c: float) -> float:
    return service * max(1.0, c / k)


def fit_parallelism(points: list[LevelPoint]) -> ParallelismFit | None:
    """Least-squares fit of ``latency = S * max(1, c/k)``; None with fewer than two usable levels.

    Residuals are relative (each level divided by its own latency) so that the long queues at high
    concurrency do not drown the plateau that fixes ``S``.
    """
    usable = sorted((p for p in points if p.latency_ms and p.latency_ms > 0 and p.completed > 0),
                    key=lambda p: p.concurrency)
    if len({p.concurrency for p in usable}) < 2:
        return None
    cs = [float(p.concurrency) for p in usable]
    ys = [float(p.latency_ms or 0.0) for p in usable]
    max_c = max(cs)
    best: tuple[float, float, float] | None = None  # (sse, k, S)
    steps = int(round((max_c - 1.0) / _K_STEP))
    for i in range(steps + 1):
        k = 1.0 + i * _K_STEP
        xs = [max(1.0, c / k) for c in cs]
        # Minimise sum(((S*x - y)/y)^2): S = sum(x/y) / sum(x^2/y^2).
        num = sum(x / y for x, y in zip(xs, ys, strict=True))
        den = sum((x / y) ** 2 for x, y in zip(xs, ys, strict=True))
        service = num / den
        sse = sum(((service * x - y) / y) ** 2 for x, y in zip(xs, ys, strict=True))
        if best is None or sse < best[0] - 1e-12:
            best = (sse, k, service)
    assert best is not None
    _, k, service = best
    mean_y = sum(ys) / len(ys)
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    ss_res = sum((_model(service, k, c) - y) ** 2 for c, y in zip(cs, ys, strict=True))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    # The knee is only seen if some level went clearly past it (latency grew by more than the noise).
    plateau_only = all(y <= service * 1.25 for y in ys)
    if plateau_only:
        k = max_c
    return ParallelismFit(
        effective_parallelism=round(k, 2), slots=max(1, int(round(k))), service_ms=round(service, 3),
        r_squared=round(r2, 4), lower_bound=plateau_only, throughput_parallelism=throughput_parallelism(usable),
        points_used=len(usable),
    )


def throughput_parallelism(points: list[LevelPoint]) -> float | None:
    """Peak throughput times the latency alone: how many requests the server really serves at once."""
    alone = next((p for p in sorted(points, key=lambda p: p.concurrency) if p.concurrency == 1), None)
    if alone is None or not alone.latency_ms:
        return None
    best = max((p.concurrency / p.latency_ms for p in points if p.latency_ms), default=None)
    return round(best * alone.latency_ms, 2) if best else None


def timeout_crossing(points: list[LevelPoint], fit: ParallelismFit | None, timeout_s: float) -> int | None:
    """Lowest concurrency whose p95 reaches the timeout: measured where a level did, else extrapolated."""
    timeout_ms = timeout_s * 1000
    measured = [p.concurrency for p in points if p.p95_e2e_ms is not None and p.p95_e2e_ms >= timeout_ms]
    ordered = sorted(points, key=lambda p: p.concurrency)
    base = next((p for p in ordered if p.p95_e2e_ms), None)
    model: int | None = None
    if fit is not None and base is not None and base.p95_e2e_ms:
        # p95 grows like the mean beyond the knee; scale the lowest level's p95 by the fitted curve.
        p95_alone = base.p95_e2e_ms / max(1.0, base.concurrency / fit.effective_parallelism)
        if p95_alone >= timeout_ms:
            model = 1
        elif not fit.lower_bound:
            model = max(1, math.ceil(fit.effective_parallelism * timeout_ms / p95_alone))
    candidates = [c for c in [*measured, model] if c is not None]
    return min(candidates) if candidates else None


def queue_share_at(fit: ParallelismFit, concurrency: float) -> float:
    """Share of latency spent waiting for a slot at a given concurrency, per the fitted curve."""
    if concurrency <= fit.effective_parallelism:
        return 0.0
    return round(1.0 - fit.effective_parallelism / concurrency, 4)
