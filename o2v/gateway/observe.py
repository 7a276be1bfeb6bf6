"""What the gateway measures on every request: a store sample (for the cutover's analysis) and Prometheus series.

Samples go through ``SampleWriter`` (an append per request, batched inserts from a thread), so recording
never waits for the database. Prometheus labels use the client's name, or ``unnamed`` for every unnamed
caller, so the series count stays bounded however many addresses call.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter

from o2v.gateway.identity import Caller
from o2v.gateway.replies import Api
from o2v.store_schema import RequestSample
from o2v.store_writer import SampleWriter

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


@dataclass(slots=True)
class Exchange:
    """One request as it goes through the gateway; filled in as facts arrive."""

    caller: Caller
    api: Api
    path: str
    backend: str = "ollama"
    model: str = ""
    status: int = 0
    started: float = field(default_factory=time.perf_counter)
    wall: float = field(default_factory=time.time)
    first_byte: float | None = None
    output_tokens: int | None = None
    error_kind: str | None = None
    streamed: bool = False

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()


class Observer:
    """Records each finished exchange; owns the gateway's Prometheus registry."""

    def __init__(self, writer: SampleWriter | None) -> None:
        self.writer = writer
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = PromCounter(
            "o2v_gateway_requests", "Requests answered, by backend, client, API and status.",
            ["backend", "client", "api", "status"], registry=r,
        )  # fmt: skip
        self.ttft = Histogram(
            "o2v_gateway_ttft_seconds", "Time to the first streamed byte from the backend.",
            ["backend", "client"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.e2e = Histogram(
            "o2v_gateway_e2e_seconds", "End-to-end time of a request through the gateway.",
            ["backend", "client"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = PromCounter(
            "o2v_gateway_output_tokens", "Output tokens reported by the backends.", ["backend", "client"], registry=r
        )
        self.in_flight = Gauge("o2v_gateway_in_flight", "Requests in progress.", ["backend"], registry=r)
        self.errors = PromCounter(
            "o2v_gateway_errors", "Failed requests by backend and kind.", ["backend", "kind"], registry=r
        )
        self.ignored = PromCounter(
            "o2v_gateway_ignored_options", "Ollama options vLLM cannot honour, by client.", ["client", "option"],
            registry=r,
        )  # fmt: skip
        self.routing_version = Gauge("o2v_gateway_routing_version", "Routing table version in force.", registry=r)
        self.ignored_by_client: dict[str, Counter[str]] = {}
        # Labelled series, looked up once: prometheus_client's labels() checks and locks on every call.
        self._series: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self._counted: dict[tuple[str, str, str, int], Any] = {}
        self._gauges: dict[str, Any] = {}

    def in_flight_for(self, backend: str) -> Any:
        gauge = self._gauges.get(backend)
        if gauge is None:
            gauge = self._gauges[backend] = self.in_flight.labels(backend)
        return gauge

    def count(self, backend: str, client: str, api: str, status: int) -> None:
        """One answered request in ``o2v_gateway_requests_total``."""
        key = (backend, client, api, status)
        counter = self._counted.get(key)
        if counter is None:
            counter = self._counted[key] = self.requests.labels(backend, client, api, str(status))
        counter.inc()

    def note_ignored(self, caller: Caller, options: list[str]) -> None:
        """Options accepted but not honoured by vLLM: counted so the cutover knows who relies on them."""
        if not options:
            return
        counts = self.ignored_by_client.setdefault(caller.label, Counter())
        for option in options:
            counts[option] += 1
            self.ignored.labels(_label(caller), option).inc()

    def record(self, ex: Exchange) -> None:
        end = time.perf_counter()
        client = _label(ex.caller)
        ttft_s = (ex.first_byte - ex.started) if ex.streamed and ex.first_byte is not None else None
        e2e_s = end - ex.started
        self.count(ex.backend, client, ex.api, ex.status)
        series = self._series.get((ex.backend, client))
        if series is None:
            series = self._series[(ex.backend, client)] = (
                self.e2e.labels(ex.backend, client), self.ttft.labels(ex.backend, client),
                self.tokens.labels(ex.backend, client),
            )  # fmt: skip
        e2e, ttft, tokens = series
        e2e.observe(e2e_s)
        if ttft_s is not None:
            ttft.observe(ttft_s)
        if ex.output_tokens:
            tokens.inc(ex.output_tokens)
        if ex.error_kind is not None:
            self.errors.labels(ex.backend, ex.error_kind).inc()
        if self.writer is not None:
            # Validated by pydantic-core: with every field given, cheaper than model_construct's Python loop.
            self.writer.add(
                RequestSample(
                    time=datetime.fromtimestamp(ex.wall, UTC),
                    source="gateway",
                    backend="vllm" if ex.backend == "vllm" else "ollama",
                    client=ex.caller.label,
                    model=ex.model,
                    status=ex.status,
                    ttft_ms=None if ttft_s is None else ttft_s * 1000,
                    e2e_ms=e2e_s * 1000,
                    output_tokens=ex.output_tokens,
                    error_kind=ex.error_kind,
                    run_id=None,
                    concurrency=None,
                    api=ex.api,
                )
            )


def _label(caller: Caller) -> str:
    return caller.name
