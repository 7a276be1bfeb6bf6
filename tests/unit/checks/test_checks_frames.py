"""The derived columns the suites read: rates as 0/1 columns, latencies of successful requests only."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from checks.frames import comparison_frame, for_backend, level_stats, samples_frame


def test_rates_and_latency_columns(make_samples):
    samples = make_samples("ollama", 10, e2e_ms=2000, errors=2) + make_samples(
        "ollama", 2, errors=2, error_kind="http_500"
    )
    frame = samples_frame(samples)
    assert frame["is_error"].mean() == pytest.approx(4 / 12)
    assert frame["is_timeout"].mean() == pytest.approx(2 / 12)
    assert frame["ok_e2e_ms"].notna().sum() == 8
    assert frame["ok_e2e_ms"].max() == 2000


def test_http_error_status_without_kind_is_an_error_and_504_is_a_timeout(make_samples):
    samples = make_samples("vllm", 3)
    samples[0] = samples[0].model_copy(update={"status": 503})
    samples[1] = samples[1].model_copy(update={"status": 504})
    frame = samples_frame(samples)
    assert frame["is_error"].tolist() == [1, 1, 0]
    assert frame["is_timeout"].tolist() == [0, 1, 0]


def test_queue_share_uses_ttft_above_the_lowest_level_median(make_samples):
    alone = make_samples("ollama", 5, e2e_ms=2000, ttft_ms=200, concurrency=1)
    queued = make_samples("ollama", 5, e2e_ms=10_000, ttft_ms=8200, concurrency=4)
    frame = samples_frame(alone + queued)
    assert frame.loc[frame["concurrency"] == 1, "queue_share"].max() == 0
    assert frame.loc[frame["concurrency"] == 4, "queue_share"].tolist() == pytest.approx([0.8] * 5)


def test_accepts_a_dataframe_and_filters_by_backend(make_samples):
    raw = pd.DataFrame([s.model_dump() for s in make_samples("vllm", 3) + make_samples("ollama", 4)])
    frame = samples_frame(raw.drop(columns=["run_id"]))
    assert len(for_backend(frame, "ollama")) == 4
    assert len(for_backend(frame, "vllm")) == 3


def test_level_throughput_is_tokens_over_wall_time(make_samples):
    # 11 requests, 0.1 s apart, each 1 s long: the level spans 2.0 s and produces 11 * 50 tokens.
    frame = samples_frame(make_samples("vllm", 11, e2e_ms=1000, concurrency=4))
    stats = level_stats(frame)[4.0]
    assert stats["throughput"] == pytest.approx(550 / 2.0)
    assert stats["tokens"] == 1.0


def test_comparison_only_for_levels_both_sides_ran_with_enough_samples(make_samples):
    vllm = samples_frame(
        make_samples("vllm", 20, e2e_ms=500, concurrency=4) + make_samples("vllm", 5, concurrency=8)
    )
    ollama = samples_frame(
        make_samples("ollama", 20, e2e_ms=2000, concurrency=4) + make_samples("ollama", 20, concurrency=8)
    )
    compared = comparison_frame(vllm, ollama, min_samples=10)
    assert compared["concurrency"].tolist() == [4.0]
    assert compared["p95_ratio"].iloc[0] == pytest.approx(0.25)
    assert compared["throughput_unit"].iloc[0] == "output tokens/s"


def test_comparison_falls_back_to_requests_per_second_without_token_counts(make_samples):
    vllm = samples_frame(make_samples("vllm", 10, tokens=None, concurrency=2))
    ollama = samples_frame(make_samples("ollama", 10, tokens=30, concurrency=2))
    row = comparison_frame(vllm, ollama, min_samples=1).iloc[0]
    assert row["throughput_unit"] == "requests/s"
    assert row["throughput_ratio"] == pytest.approx(1.0)
    assert not math.isnan(row["p95_ratio"])
