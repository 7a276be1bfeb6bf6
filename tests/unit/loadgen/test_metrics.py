from __future__ import annotations

import numpy as np
import pytest

from o2v.loadgen.metrics import Percentiles, level_stats, percentile, to_sample
from o2v.loadgen.protocol import Record
from o2v.loadgen.workload import Workload


@pytest.mark.parametrize("pct", [0, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(pct: float) -> None:
    data = sorted([3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.3, 5.0, 8.9, 7.0, 0.2])
    assert percentile(data, pct) == pytest.approx(float(np.percentile(data, pct)))


def test_percentiles_of_empty_and_one() -> None:
    assert Percentiles.of([]).median is None
    one = Percentiles.of([4.0])
    assert (one.n, one.mean, one.median, one.p99, one.max) == (1, 4.0, 4.0, 4.0, 4.0)


def rec(
    start: float,
    tokens: list[float],
    end: float,
    *,
    intended: float | None = None,
    usage: int | None = None,
    error: str | None = None,
) -> Record:
    r = Record(
        level=0,
        intended_s=start if intended is None else intended,
        start_s=start,
        end_s=end,
        token_times=tokens,
        first_token_s=tokens[0] if tokens else 0.0,
        usage_tokens=usage,
        status=200,
        wall_time=1_700_000_000.0,
    )
    r.error_kind = error
    return r


def test_level_stats_definitions() -> None:
    w = Workload(url="http://h:1", model="m", slo_ttft_ms=150, slo_e2e_ms=10_000)
    records = [
        rec(0.0, [0.1, 0.2, 0.3], 0.5, usage=5),  # TTFT 100, TPOT (500-100)/4 = 100, ITL 100, 100
        rec(0.0, [0.2, 0.25], 1.0, intended=-0.01),  # TTFT 200 (misses SLO), 2 counted tokens, queued 10 ms
        rec(0.5, [], 0.6, error="http_503"),
    ]
    s = level_stats(w, 2, None, records, [1.0, 3.0])
    assert (s.requests, s.completed, s.failed) == (3, 2, 1)
    assert s.errors_by_kind == {"http_503": 1}
    assert s.error_rate == pytest.approx(1 / 3)
    assert s.duration_s == pytest.approx(1.0)
    assert s.request_throughput_rps == pytest.approx(2.0)
    assert s.output_tokens_total == 7
    assert s.output_tokens_per_s == pytest.approx(7.0)
    assert s.ttft_ms.median == pytest.approx(150.0)
    assert s.itl_ms.n == 3
    assert s.itl_ms.median == pytest.approx(100.0)
    assert s.tpot_ms.n == 2
    assert s.tpot_ms.median == pytest.approx((100.0 + 800.0) / 2)
    assert s.e2e_ms.max == pytest.approx(1000.0)
    assert s.goodput_rps == pytest.approx(1.0)
    assert s.client_queue_ms.max == pytest.approx(10.0)
    assert s.loop_lag_ms.max == 3.0
    assert s.token_counts_from == "mixed"
    assert not s.client_bound


def test_no_slo_means_no_goodput_and_rate_mode_reports_peak_in_flight() -> None:
    w = Workload(url="http://h:1", model="m", mode="rate", rate_rps=5)
    records = [rec(0.0, [0.1], 1.0), rec(0.2, [0.3], 0.5), rec(0.6, [0.7], 0.9), rec(2.0, [2.1], 2.2)]
    s = level_stats(w, 0, 5.0, records, [])
    assert s.goodput_rps is None
    assert s.concurrency == 2
    assert s.rate_rps == 5.0


def test_lagging_client_is_flagged() -> None:
    w = Workload(url="http://h:1", model="m")
    records = [rec(0.0, [0.1], 0.2)]
    assert level_stats(w, 1, None, records, [8.0] * 10).client_bound  # steady lag
    assert level_stats(w, 1, None, records, [1.0] * 18 + [90.0, 90.0]).client_bound  # p95 spikes
    assert not level_stats(w, 1, None, records, [1.0] * 99 + [90.0]).client_bound  # one OS hiccup


def test_to_sample_carries_what_the_store_needs() -> None:
    w = Workload(url="http://h:1", model="m", backend="ollama", source="probe")
    ok = to_sample(w, "run1", 5, rec(1.0, [1.25, 1.5], 2.0, usage=4))
    assert (ok.source, ok.backend, ok.model, ok.run_id, ok.concurrency) == ("probe", "ollama", "m", "run1", 5)
    assert ok.ttft_ms == pytest.approx(250.0)
    assert ok.e2e_ms == pytest.approx(1000.0)
    assert ok.output_tokens == 4
    assert ok.ok
    bad = to_sample(w, "run1", 5, rec(1.0, [], 1.5, error="timeout"))
    assert bad.error_kind == "timeout"
    assert bad.ttft_ms is None
    assert not bad.ok
