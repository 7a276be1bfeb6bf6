"""vLLM's Prometheus metrics (v1 engine names, optional pre-v1 aliases) in the text exposition format.

Bucket boundaries are vLLM's own so that quantiles computed from a scrape compare with a real server.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
ITL_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)
LATENCY_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
TOKEN_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            out.append(f'{name}_bucket{{{labels},le="{float(bound)}"}} {float(running)}')
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {float(self.n)}')
        out.append(f"{name}_count{{{labels}}} {float(self.n)}")
        out.append(f"{name}_sum{{{labels}}} {self.total}")
        return out


class Metrics:
    """Everything ``GET /metrics`` reports; the engine updates it per step and per finished request."""

    def __init__(self, model_name: str, legacy_names: bool = False) -> None:
        self.labels = f'engine="0",model_name="{model_name}"'
        self.legacy_names = legacy_names
        self.running = 0
        self.waiting = 0
        self.kv_usage = 0.0
        self.preemptions = 0
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.success: dict[str, int] = {"stop": 0, "length": 0, "abort": 0}
        self.ttft = Histogram(TTFT_BUCKETS)
        self.itl = Histogram(ITL_BUCKETS)
        self.e2e = Histogram(LATENCY_BUCKETS)
        self.queue = Histogram(LATENCY_BUCKETS)
        self.prefill = Histogram(LATENCY_BUCKETS)
        self.decode = Histogram(LATENCY_BUCKETS)
        self.prompt_hist = Histogram(TOKEN_BUCKETS)
        self.gen_hist = Histogram(TOKEN_BUCKETS)

    def _gauge(self, name: str, help_: str, value: float) -> list[str]:
        return [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name}{{{self.labels}}} {float(value)}"]

    def _counter(self, name: str, help_: str, value: float) -> list[str]:
        return [
            f"# HELP {name}_total {help_}",
            f"# TYPE {name}_total counter",
            f"{name}_total{{{self.labels}}} {float(value)}",
        ]

    def _hist(self, name: str, help_: str, hist: Histogram) -> list[str]:
        return [f"# HELP {name} {help_}", f"# TYPE {name} histogram", *hist.lines(name, self.labels)]

    def render(self) -> str:
        lines: list[str] = []
        lines += self._gauge(
            "vllm:num_requests_running", "Number of requests in model execution batches.", self.running
        )
        lines += self._gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", self.waiting)
        lines += self._gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", self.kv_usage)
        if self.legacy_names:
            lines += self._gauge(
                "vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.", self.kv_usage
            )
        lines += self._counter(
            "vllm:num_preemptions", "Cumulative number of preemption from the engine.", self.preemptions
        )
        lines += self._counter("vllm:prompt_tokens", "Number of prefill tokens processed.", self.prompt_tokens)
        lines += self._counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", self.generation_tokens
        )
        lines += [
            "# HELP vllm:request_success_total Count of successfully processed requests.",
            "# TYPE vllm:request_success_total counter",
        ]
        for reason, count in self.success.items():
            lines.append(f'vllm:request_success_total{{{self.labels},finished_reason="{reason}"}} {float(count)}')
        lines += self._hist(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", self.ttft
        )
        lines += self._hist(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", self.itl
        )
        if self.legacy_names:
            lines += self._hist(
                "vllm:time_per_output_token_seconds",
                "Histogram of time per output token in seconds.",
                self.itl,
            )
        lines += self._hist(
            "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", self.e2e
        )
        lines += self._hist(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            self.queue,
        )
        lines += self._hist(
            "vllm:request_prefill_time_seconds",
            "Histogram of time spent in PREFILL phase for request.",
            self.prefill,
        )
        lines += self._hist(
            "vllm:request_decode_time_seconds",
            "Histogram of time spent in DECODE phase for request.",
            self.decode,
        )
        lines += self._hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", self.prompt_hist)
        lines += self._hist("vllm:request_generation_tokens", "Number of generation tokens processed.", self.gen_hist)
        return "\n".join(lines) + "\n"
