"""vLLM /metrics text -> typed values, for old and new metric names."""

from __future__ import annotations

import pytest

from o2v.errors import ServerError
from o2v.servers.metrics import Histogram, parse_vllm_metrics

NEW = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 7.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 1000.0
vllm:prompt_tokens_created{engine="0",model_name="m"} 1.7e9
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="m"} 500.0
# TYPE vllm:num_preemptions_total counter
vllm:num_preemptions_total{engine="0",model_name="m"} 1.0
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 8.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 2.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 4.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5",model_name="m"} 8.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 10.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 10.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 2.5
# TYPE vllm:inter_token_latency_seconds histogram
vllm:inter_token_latency_seconds_bucket{engine="0",le="0.05",model_name="m"} 100.0
vllm:inter_token_latency_seconds_bucket{engine="0",le="+Inf",model_name="m"} 100.0
vllm:inter_token_latency_seconds_count{engine="0",model_name="m"} 100.0
vllm:inter_token_latency_seconds_sum{engine="0",model_name="m"} 2.0
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 5.0
"""

OLD = """\
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="a"} 0.5
vllm:gpu_cache_usage_perc{model_name="b"} 0.1
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_bucket{le="0.01",model_name="a"} 1.0
vllm:time_per_output_token_seconds_bucket{le="+Inf",model_name="a"} 3.0
vllm:time_per_output_token_seconds_count{model_name="a"} 3.0
vllm:time_per_output_token_seconds_sum{model_name="a"} 0.3
"""


def test_new_names_sum_over_engines() -> None:
    m = parse_vllm_metrics(NEW)
    assert m.num_requests_running == 5.0
    assert m.num_requests_waiting == 7.0
    assert m.kv_cache_usage_fraction == 0.25
    assert (m.prompt_tokens_total, m.generation_tokens_total, m.num_preemptions_total) == (1000.0, 500.0, 1.0)
    assert m.request_success_total == {"stop": 8.0, "length": 2.0}
    assert m.model_names == ["m"]
    assert m.ttft_seconds is not None
    assert m.ttft_seconds.count == 10.0
    assert m.ttft_seconds.mean == pytest.approx(0.25)
    assert m.ttft_seconds.quantile(0.5) == pytest.approx(0.1 + 0.4 * 0.25)
    assert m.inter_token_latency_seconds is not None
    assert m.e2e_request_latency_seconds is None


def test_old_names_and_model_filter() -> None:
    everything = parse_vllm_metrics(OLD)
    only_a = parse_vllm_metrics(OLD, model_name="a")
    assert everything.kv_cache_usage_fraction == pytest.approx(0.6)
    assert only_a.kv_cache_usage_fraction == 0.5
    assert only_a.inter_token_latency_seconds is not None
    assert only_a.inter_token_latency_seconds.count == 3.0
    assert only_a.num_requests_running is None


def test_new_name_wins_when_both_are_exported() -> None:
    both = NEW + OLD.replace('model_name="a"', 'model_name="m"').replace(
        '{model_name="b"} 0.1', '{model_name="m"} 0.9'
    )
    m = parse_vllm_metrics(both, model_name="m")
    assert m.kv_cache_usage_fraction == 0.25
    assert m.inter_token_latency_seconds is not None
    assert m.inter_token_latency_seconds.count == 100.0


def test_histogram_window_and_edges() -> None:
    later = Histogram(buckets=[(0.1, 6.0), (float("inf"), 10.0)], sum=3.0, count=10.0)
    earlier = Histogram(buckets=[(0.1, 2.0), (float("inf"), 2.0)], sum=0.1, count=2.0)
    window = later.minus(earlier)
    assert window.buckets == [(0.1, 4.0), (float("inf"), 8.0)]
    assert window.count == 8.0
    assert window.quantile(0.99) == 0.1  # beyond the last finite bound: report that bound
    assert Histogram().quantile(0.5) is None
    assert Histogram().mean is None
    with pytest.raises(ValueError, match="within 0..1"):
        window.quantile(1.5)


def test_garbage_is_a_server_error() -> None:
    with pytest.raises(ServerError, match="Prometheus"):
        parse_vllm_metrics('vllm:num_requests_running{model_name="m" 3\n')
