"""Effective parallelism from latency against concurrency.

A server with ``k`` slots and service time ``S`` keeps every request at ``S`` while ``c <= k`` and, beyond
that, makes each one wait for ``c - k`` others: in a closed loop the steady-state latency is
``S * max(1, c / k)`` (Little's law: ``c = throughput * latency`` and the throughput is ``min(c, k) / S``).
Fitting that knee to the measured levels gives ``k`` without trusting ``OLLAMA_NUM_PARALLEL``, which says
what was asked for, not what the model, the memory and the version really granted.

A handful of noisy levels rarely pins ``k`` to one integer, so the fit also says how sure it is. With
Gaussian relative errors of size ``sigma`` the sum of squared relative residuals is a log-likelihood:
``L(k) ~ exp(-SSE(k) / (2 sigma^2))`` after profiling ``S`` out. ``sigma`` is estimated from the best fit's
residuals (``n - 2`` degrees of freedom) but never below a floor, because a few levels can fit by chance
better than a real server's timing ever repeats. The 95% interval on ``k`` is where ``SSE(k) - SSE_min <= 3.84 sigma^2``
(likelihood ratio, one parameter); each whole slot count gets its normalised likelihood, and the plausible
slot counts are the smallest set that holds 95% of it.
"""

from __future__ import annotations

import math

from o2v.diagnose.models import Confidence, LevelPoint, ParallelismFit

_K_STEP = 0.01
# Relative timing noise assumed at least. Fitted to three or four levels the residuals can vanish by chance
# (and do for exactly modelled curves); real sweeps recorded here showed 8-20% (docs/diagnosis.md).
NOISE_FLOOR = 0.03
_CHI2_95_1DOF = 3.84


def _model(service: float, k: float, c: float) -> float:
    return service * max(1.0, c / k)


def _profile(cs: list[float], ys: list[float], k: float) -> tuple[float, float]:
    """(SSE, S) at a given k: minimise sum(((S*x - y)/y)^2) over S, which has S = sum(x/y) / sum(x^2/y^2)."""
    xs = [max(1.0, c / k) for c in cs]
    num = sum(x / y for x, y in zip(xs, ys, strict=True))
    den = sum((x / y) ** 2 for x, y in zip(xs, ys, strict=True))
    service = num / den
    return sum(((service * x - y) / y) ** 2 for x, y in zip(xs, ys, strict=True)), service


def fit_parallelism(points: list[LevelPoint]) -> ParallelismFit | None:
    """Least-squares fit of ``latency = S * max(1, c/k)`` with its uncertainty; None with fewer than two levels.

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
    grid = [1.0 + i * _K_STEP for i in range(int(round((max_c - 1.0) / _K_STEP)) + 1)]
    profile = [(k, *_profile(cs, ys, k)) for k in grid]  # (k, sse, S)
    best = profile[0]
    for row in profile:
        if row[1] < best[1] - 1e-12:
            best = row
    k, sse_min, service = best
    mean_y = sum(ys) / len(ys)
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    ss_res = sum((_model(service, k, c) - y) ** 2 for c, y in zip(cs, ys, strict=True))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    # The knee is only seen if some level went clearly past it (latency grew by more than the noise).
    plateau_only = all(y <= service * 1.25 for y in ys)
    if plateau_only:
        k = max_c

    dof = len(ys) - 2
    noise = max(math.sqrt(sse_min / dof) if dof > 0 else 0.0, NOISE_FLOOR)
    inside = [row[0] for row in profile if row[1] - sse_min <= _CHI2_95_1DOF * noise**2]
    # k at the top of the grid fits as well as any k above it (no level reached past it): no upper end.
    open_ended = plateau_only or inside[-1] >= max_c
    weights = {s: math.exp(-(_profile(cs, ys, float(s))[0] - sse_min) / (2 * noise**2))
               for s in range(1, int(max_c) + 1)}  # fmt: skip
    total = sum(weights.values())
    probabilities = {s: w / total for s, w in weights.items()}
    plausible: list[int] = []
    mass = 0.0
    for s, prob in sorted(probabilities.items(), key=lambda item: -item[1]):
        plausible.append(s)
        mass += prob
        if mass >= 0.95:
            break
    plausible.sort()
    low, high = min(inside), (math.inf if open_ended else max(inside))
    # No whole number inside the interval: the server does not act like k independent slots (slots that share
    # one runner's compute, clients that pause between requests); both neighbours stay plausible.
    whole = open_ended or any(low <= s <= high for s in range(1, int(max_c) + 1))
    if not whole:
        plausible = sorted({max(1, math.floor(k)), max(1, math.ceil(k))})
    return ParallelismFit(
        effective_parallelism=round(k, 2), slots=max(1, int(round(k))), service_ms=round(service, 3),
        r_squared=round(r2, 4), lower_bound=plateau_only, throughput_parallelism=throughput_parallelism(usable),
        points_used=len(usable), effective_parallelism_low=round(min(inside), 2),
        effective_parallelism_high=None if open_ended else round(max(inside), 2),
        slot_probabilities={s: round(p, 4) for s, p in probabilities.items() if p >= 0.0005},
        plausible_slots=plausible, relative_noise=round(noise, 4), whole_slots=whole,
        confidence="low" if not whole else _confidence(plausible, plateau_only, open_ended, len(ys)),
    )  # fmt: skip


def _confidence(plausible: list[int], plateau_only: bool, open_ended: bool, levels: int) -> Confidence:
    """high: one slot count; medium: two neighbours (or one from only two levels); low: anything wider."""
    if plateau_only or open_ended:
        return "low"
    if len(plausible) == 1:
        return "high" if levels >= 3 else "medium"
    if len(plausible) == 2 and plausible[1] - plausible[0] == 1:
        return "medium"
    return "low"


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


def queue_share_range(fit: ParallelismFit, concurrency: float) -> tuple[float, float]:
    """Queueing share at both ends of the 95% interval on k: (fewest queued, most queued).

    An open-ended interval (no level went past the knee) may hide any number of slots, so its low end is 0.
    """
    def share(k: float) -> float:
        return 0.0 if concurrency <= k else round(1.0 - k / concurrency, 4)

    low_k = fit.effective_parallelism_low if fit.effective_parallelism_low is not None else fit.effective_parallelism
    high = 0.0 if fit.effective_parallelism_high is None else share(fit.effective_parallelism_high)
    return high, share(low_k)
