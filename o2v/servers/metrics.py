"""vLLM's Prometheus ``/metrics`` as typed values, for both metric generations.

Why: the validation and diagnosis phases read queue depth, KV-cache use and latency histograms from the
server itself. vLLM renamed metrics between versions (``gpu_cache_usage_perc`` -> ``kv_cache_usage_perc``,
``time_per_output_token_seconds`` -> ``inter_token_latency_seconds``); a team may run either, so both
names are read and the newer one wins when a server exports both. Values of several engines or models are
summed unless a ``model_name`` is given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

from o2v.errors import ServerError

# field -> metric names, newest first (counters without the ``_total`` suffix the parser strips)
GAUGES: dict[str, tuple[str, ...]] = {
    "num_requests_running": ("vllm:num_requests_running",),
    "num_requests_waiting": ("vllm:num_requests_waiting",),
    "kv_cache_usage_fraction": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
}
COUNTERS: dict[str, tuple[str, ...]] = {
    "num_preemptions_total": ("vllm:num_preemptions_total", "vllm:num_preemptions"),
    "prompt_tokens_total": ("vllm:prompt_tokens_total",),
    "generation_tokens_total": ("vllm:generation_tokens_total",),
}
HISTOGRAMS: dict[str, tuple[str, ...]] = {
    "ttft_seconds": ("vllm:time_to_first_token_seconds",),
    "inter_token_latency_seconds": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    "e2e_request_latency_seconds": ("vllm:e2e_request_latency_seconds",),
    "request_queue_time_seconds": ("vllm:request_queue_time_seconds",),
}
SUCCESS = "vllm:request_success_total"


class Histogram(BaseModel):
    """A cumulative Prometheus histogram: ``buckets`` are (upper bound, count of observations <= bound)."""

    buckets: list[tuple[float, float]] = Field(default_factory=list)
    sum: float = 0.0
    count: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """Estimate like PromQL's ``histogram_quantile``: linear inside the bucket holding the rank."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within 0..1, got {q}")
        if not self.buckets or self.buckets[-1][1] <= 0:
            return None
        rank = q * self.buckets[-1][1]
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if bound == float("inf"):
                    return lower_bound  # the rank lies beyond the last finite bound
                width = cumulative - lower_count
                fraction = (rank - lower_count) / width if width else 1.0
                return lower_bound + (bound - lower_bound) * fraction
            lower_bound, lower_count = bound, cumulative
        return lower_bound

    def minus(self, earlier: Histogram) -> Histogram:
        """Observations made since ``earlier`` (same bucket layout), for a measurement window."""
        before = dict(earlier.buckets)
        return Histogram(
            buckets=[(le, n - before.get(le, 0.0)) for le, n in self.buckets],
            sum=self.sum - earlier.sum,
            count=self.count - earlier.count,
        )


class VLLMMetrics(BaseModel):
    """The vLLM metrics the migration reads; ``None`` when the server does not export one."""

    num_requests_running: float | None = None
    num_requests_waiting: float | None = None
    kv_cache_usage_fraction: float | None = Field(
        default=None, description="0..1 (vLLM's *_perc gauges are fractions)."
    )
    num_preemptions_total: float | None = None
    prompt_tokens_total: float | None = None
    generation_tokens_total: float | None = None
    request_success_total: dict[str, float] = Field(
        default_factory=dict, description="Finished requests by finished_reason (stop, length, abort, ...)."
    )
    ttft_seconds: Histogram | None = None
    inter_token_latency_seconds: Histogram | None = None
    e2e_request_latency_seconds: Histogram | None = None
    request_queue_time_seconds: Histogram | None = None
    model_names: list[str] = Field(default_factory=list, description="model_name labels seen.")
    names_found: list[str] = Field(default_factory=list, description="vllm:* metric names the server exported.")


Sample = tuple[str, dict[str, str], float]


def parse_samples(text: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition as (name, labels, value)."""
    try:
        return [
            (s.name, dict(s.labels), float(s.value)) for f in text_string_to_metric_families(text) for s in f.samples
        ]
    except (ValueError, IndexError, TypeError) as exc:
        raise ServerError(
            f"/metrics is not valid Prometheus text ({exc}); expected vLLM's exposition format -- "
            "is the URL a vLLM server?"
        ) from exc


def parse_vllm_metrics(text: str, model_name: str | None = None) -> VLLMMetrics:
    """Typed vLLM metrics from ``/metrics`` text, optionally for one served model only."""
    samples = [s for s in parse_samples(text) if model_name is None or s[1].get("model_name", model_name) == model_name]
    totals: dict[str, float] = defaultdict(float)
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    success: dict[str, float] = defaultdict(float)
    models: set[str] = set()
    names: set[str] = set()
    for name, labels, value in samples:
        if not name.startswith("vllm:"):
            continue
        if "model_name" in labels:
            models.add(labels["model_name"])
        if name.endswith("_bucket") and "le" in labels:
            buckets[name[: -len("_bucket")]][float(labels["le"])] += value
            names.add(name[: -len("_bucket")])
            continue
        if name == SUCCESS:
            success[labels.get("finished_reason", "unknown")] += value
        if name.endswith("_created"):
            continue
        totals[name] += value
        names.add(name)

    parts = {f"{base}{suffix}" for base in buckets for suffix in ("_sum", "_count")}
    result = VLLMMetrics(
        request_success_total=dict(success), model_names=sorted(models), names_found=sorted(names - parts)
    )
    for field, candidates in {**GAUGES, **COUNTERS}.items():
        setattr(result, field, _first(candidates, totals))
    for field, candidates in HISTOGRAMS.items():
        for base in candidates:
            if base in buckets:
                setattr(
                    result,
                    field,
                    Histogram(
                        buckets=sorted(buckets[base].items()),
                        sum=totals.get(base + "_sum", 0.0),
                        count=totals.get(base + "_count", 0.0),
                    ),
                )
                break
    return result


def _first(candidates: Iterable[str], totals: dict[str, float]) -> float | None:
    for name in candidates:
        if name in totals:
            return totals[name]
    return None
