"""Confidence intervals for the vLLM-vs-Ollama comparison: bootstrap of a ratio of p95s, and of a rate difference.

Why a bootstrap: a p95 from a few hundred latencies has no convenient closed-form interval, and a ratio of two
of them even less so. Resampling each side's requests with replacement (percentile bootstrap, the two sides
independently, as they were measured one after the other) gives an interval for the ratio that needs no
assumption about the latency distribution. A fixed seed makes the same data give the same verdict, every time
and on every machine (the seed is mixed with the level and the figure so levels do not share draws).

p95 uses linear interpolation between order statistics, the same as the load generator and the GX
expectations (``numpy.quantile``'s default).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_CHUNK_VALUES = 2_000_000  # resampled values held at once (16 MB of float64), whatever the sample size


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided interval; ``low <= point <= high`` in practice, not by construction."""

    point: float
    low: float
    high: float


@dataclass(frozen=True)
class IntervalSpec:
    """How intervals are computed: two-sided confidence, bootstrap resamples, and the seed."""

    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0

    def rng(self, *labels: object) -> np.random.Generator:
        import numpy as np

        mix = zlib.crc32(":".join(str(label) for label in labels).encode())
        return np.random.default_rng([self.seed, mix])


def p95(values: np.ndarray) -> float:
    import numpy as np

    return float(np.quantile(values, 0.95)) if len(values) else float("nan")


def ratio_of_p95(candidate: np.ndarray, baseline: np.ndarray, spec: IntervalSpec, *labels: object) -> Interval:
    """candidate p95 / baseline p95 with a percentile-bootstrap interval; NaN when either side is empty."""
    import numpy as np

    if len(candidate) == 0 or len(baseline) == 0:
        nan = float("nan")
        return Interval(nan, nan, nan)
    base_p95 = p95(baseline)
    point = p95(candidate) / base_p95 if base_p95 > 0 else float("inf")
    rng = spec.rng("p95-ratio", *labels)
    cand = _bootstrap_p95(np.asarray(candidate, dtype=float), spec.resamples, rng)
    base = _bootstrap_p95(np.asarray(baseline, dtype=float), spec.resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(base > 0, cand / np.where(base > 0, base, 1.0), np.inf)
    low, high = _percentile_bounds(ratios, spec.confidence)
    return Interval(point, low, high)


def ratio_of_busy_throughput(
    candidate: tuple[np.ndarray, np.ndarray],
    baseline: tuple[np.ndarray, np.ndarray],
    spec: IntervalSpec,
    *labels: object,
) -> Interval:
    """(sum tokens / sum e2e) of vLLM over the same of Ollama, each side given as (tokens, e2e_s) arrays.

    At a fixed concurrency every slot is busy, so a level's throughput is concurrency x tokens per second of
    request time (Little's law); the concurrency cancels in the ratio. Unlike first-send-to-last-answer wall
    time (one number per level, dominated by the slowest slot's last request), this can be resampled per request.
    """
    import numpy as np

    if len(candidate[0]) == 0 or len(baseline[0]) == 0:
        nan = float("nan")
        return Interval(nan, nan, nan)
    rng = spec.rng("busy-throughput", *labels)
    rates = []
    points = []
    for tokens, e2e in (candidate, baseline):
        tokens, e2e = np.asarray(tokens, dtype=float), np.asarray(e2e, dtype=float)
        points.append(tokens.sum() / e2e.sum())
        idx = rng.integers(0, len(tokens), size=(spec.resamples, len(tokens)), dtype=np.int32)
        rates.append(tokens[idx].sum(axis=1) / e2e[idx].sum(axis=1))
    low, high = _percentile_bounds(rates[0] / rates[1], spec.confidence)
    return Interval(float(points[0] / points[1]), low, high)


def difference_of_rates(candidate: np.ndarray, baseline: np.ndarray, spec: IntervalSpec, *labels: object) -> Interval:
    """mean(candidate) - mean(baseline) of two 0/1 arrays (e.g. is_error), with a bootstrap interval.

    The counts are resampled as binomials, which is the same as resampling the 0/1 rows with replacement.
    """
    import numpy as np

    if len(candidate) == 0 or len(baseline) == 0:
        nan = float("nan")
        return Interval(nan, nan, nan)
    n_c, n_b = len(candidate), len(baseline)
    rate_c, rate_b = float(np.mean(candidate)), float(np.mean(baseline))
    rng = spec.rng("rate-difference", *labels)
    diffs = rng.binomial(n_c, rate_c, spec.resamples) / n_c - rng.binomial(n_b, rate_b, spec.resamples) / n_b
    low, high = _percentile_bounds(diffs, spec.confidence)
    return Interval(rate_c - rate_b, low, high)


def _bootstrap_p95(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    import numpy as np

    n = len(values)
    out = np.empty(resamples)
    step = max(1, _CHUNK_VALUES // n)
    for start in range(0, resamples, step):
        count = min(step, resamples - start)
        draws = values[rng.integers(0, n, size=(count, n), dtype=np.int32)]
        out[start : start + count] = _p95_rows(draws)
    return out


def _p95_rows(draws: np.ndarray) -> np.ndarray:
    """numpy.quantile(draws, 0.95, axis=1) (linear), from a partial sort: only two order statistics are needed."""
    import numpy as np

    n = draws.shape[1]
    position = (n - 1) * 0.95
    low = int(np.floor(position))
    high = min(low + 1, n - 1)
    part = np.partition(draws, [low, high], axis=1)
    return part[:, low] + (part[:, high] - part[:, low]) * (position - low)


def _percentile_bounds(values: np.ndarray, confidence: float) -> tuple[float, float]:
    import numpy as np

    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)
