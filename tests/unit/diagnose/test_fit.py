"""The parallelism fit recovers 1, 2 and 4 slots, and says when it only saw a lower bound."""

from __future__ import annotations

import random

import pytest
from _diag_synth import closed_loop_samples

from o2v.diagnose.fit import (
    fit_parallelism,
    queue_share_at,
    queue_share_range,
    throughput_parallelism,
    timeout_crossing,
)
from o2v.diagnose.models import LevelPoint
from o2v.diagnose.samples import levels_from_samples


def _points(k: float, service_ms: float, levels: list[int], noise: float = 0.0, seed: int = 1) -> list[LevelPoint]:
    rng = random.Random(seed)
    return [
        LevelPoint(concurrency=c, requests=20, completed=20,
                   little_latency_ms=service_ms * max(1, c / k) * (1 + rng.uniform(-noise, noise)),
                   p95_e2e_ms=1.1 * service_ms * max(1, c / k))
        for c in levels
    ]


@pytest.mark.parametrize("k", [1, 2, 4])
def test_exact_curves(k: int) -> None:
    fit = fit_parallelism(_points(k, 2000, [1, 2, 4, 8]))
    assert fit is not None
    assert fit.slots == k
    assert fit.effective_parallelism == pytest.approx(k, abs=0.01)
    assert fit.service_ms == pytest.approx(2000, rel=1e-3)
    assert not fit.lower_bound
    assert fit.throughput_parallelism == pytest.approx(k, abs=0.01)


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_curves(k: int, seed: int) -> None:
    fit = fit_parallelism(_points(k, 1500, [1, 2, 3, 4, 6, 8, 12], noise=0.08, seed=seed))
    assert fit is not None
    assert fit.slots == k


@pytest.mark.parametrize("k", [1, 2, 4])
def test_from_closed_loop_samples(k: int) -> None:
    """Burst-started closed loops: the Little's-law latency keeps the fit exact even with few requests."""
    points = levels_from_samples(closed_loop_samples([1, 2, 4, 8], 3.0, k), timeout_s=30)
    fit = fit_parallelism(points)
    assert fit is not None
    assert fit.slots == k
    assert fit.service_ms == pytest.approx(3000, rel=0.02)


def test_plateau_only_is_a_lower_bound() -> None:
    fit = fit_parallelism(_points(8, 1000, [1, 2, 4]))
    assert fit is not None
    assert fit.lower_bound
    assert fit.effective_parallelism == 4
    assert timeout_crossing(_points(8, 1000, [1, 2, 4]), fit, 30) is None


def test_too_little_data() -> None:
    assert fit_parallelism([]) is None
    assert fit_parallelism(_points(1, 1000, [1])) is None
    assert throughput_parallelism(_points(1, 1000, [2, 4])) is None


def test_timeout_crossing_and_queue_share() -> None:
    points = _points(2, 4000, [1, 2, 4, 8])
    fit = fit_parallelism(points)
    assert fit is not None
    # p95 alone 4.4 s; 2 slots: p95(c) = 4.4 * c / 2 reaches 30 s at c = ceil(2 * 30 / 4.4) = 14.
    assert timeout_crossing(points, fit, 30) == 14
    assert timeout_crossing(points, fit, 4) == 1  # already too slow alone
    assert queue_share_at(fit, 1) == 0
    assert queue_share_at(fit, 8) == pytest.approx(0.75)
    over = LevelPoint(concurrency=10, requests=5, completed=5, p95_e2e_ms=31_000, little_latency_ms=20_000)
    measured = [*points, over]
    assert timeout_crossing(measured, fit, 30) == 10


@pytest.mark.parametrize("k", [1, 2, 4])
def test_exact_curves_are_certain(k: int) -> None:
    fit = fit_parallelism(_points(k, 2000, [1, 2, 4, 8]))
    assert fit is not None
    assert fit.plausible_slots == [k]
    assert fit.confidence == "high"
    assert fit.effective_parallelism_low is not None
    assert fit.effective_parallelism_high is not None
    assert fit.effective_parallelism_low <= k <= fit.effective_parallelism_high
    assert fit.relative_noise == 0.03  # no residual at all: the noise floor sets the width
    assert fit.slot_probabilities[k] == pytest.approx(1.0, abs=0.01)


def test_too_few_noisy_levels_say_so() -> None:
    """Three levels and 20% noise: more than one slot count stays plausible and the label is not 'high'."""
    wide = [fit_parallelism(_points(3, 1500, [1, 2, 4], noise=0.20, seed=seed)) for seed in range(1, 9)]
    assert all(f is not None for f in wide)
    assert any(len(f.plausible_slots) > 1 for f in wide if f is not None)
    assert all(f.confidence != "high" for f in wide if f is not None and len(f.plausible_slots) > 1)
    two_levels = fit_parallelism(_points(1, 1500, [1, 2]))
    assert two_levels is not None
    assert two_levels.confidence in {"medium", "low"}


def test_interval_covers_the_true_slot_count() -> None:
    """Calibration: across 80 noisy sweeps the 95% interval holds the true k in at least 85% of them."""
    hits = total = 0
    for seed in range(80):
        k = 1 + seed % 4
        fit = fit_parallelism(_points(k, 1000, [1, 2, 3, 4, 6, 8], noise=0.10, seed=seed))
        assert fit is not None
        assert fit.effective_parallelism_low is not None
        high = fit.effective_parallelism_high if fit.effective_parallelism_high is not None else float("inf")
        hits += fit.effective_parallelism_low <= k <= high
        total += 1
    assert hits / total >= 0.85


def test_plateau_only_is_open_ended_and_low_confidence() -> None:
    fit = fit_parallelism(_points(8, 1000, [1, 2, 4]))
    assert fit is not None
    assert fit.effective_parallelism_high is None
    assert fit.confidence == "low"
    assert queue_share_range(fit, 6) == (0.0, pytest.approx(1 - fit.effective_parallelism_low / 6, abs=1e-3))


def test_queue_share_range_spans_the_interval() -> None:
    fit = fit_parallelism(_points(2, 1000, [1, 2, 3, 4, 6, 8], noise=0.10, seed=5))
    assert fit is not None
    assert fit.effective_parallelism_low is not None
    assert fit.effective_parallelism_high is not None
    least, most = queue_share_range(fit, 3)
    assert least == pytest.approx(max(0.0, 1 - fit.effective_parallelism_high / 3), abs=1e-3)
    assert most == pytest.approx(1 - fit.effective_parallelism_low / 3, abs=1e-3)
    assert least <= queue_share_at(fit, 3) <= most
