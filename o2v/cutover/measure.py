"""One analysis interval: the gateway's samples of the window, judged by the "cutover" GX suite.

Canary = requests the gateway sent to vLLM; baseline = requests it sent to Ollama in the same window. When too
few remain on Ollama (late stages, or the last one) the baseline is the stored pre-cutover one: the gateway's
Ollama traffic in the hour before the first client moved (the team's real load), else the validation's Ollama
samples. Anything that stops the measurement itself (the store, GX,
vLLM's model list unreachable) is an ``error`` outcome, not a failure: the state machine counts those apart.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Literal

import httpx
from pydantic import BaseModel, Field

from checks.verdict import Verdict
from o2v.config import Settings
from o2v.cutover.analysis import Measurement
from o2v.store import RequestSample, Store

BaselineSource = Literal["live", "stored", "none"]
PRE_CUTOVER_LOOKBACK = timedelta(hours=1)
PRE_CUTOVER_SAMPLES = 5000


class Traffic(BaseModel):
    """What the gateway carried in a window, per backend and per client."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    by_backend: dict[str, int] = Field(default_factory=dict)
    by_client: dict[str, dict[str, int]] = Field(default_factory=dict, description="client -> backend -> requests")


class IntervalResult(BaseModel):
    since: datetime
    until: datetime
    measurement: Measurement
    verdict: Verdict | None = None
    baseline: BaselineSource = "none"
    traffic: Traffic = Field(default_factory=Traffic)


def measure_interval(
    settings: Settings,
    store: Store,
    *,
    since: datetime,
    until: datetime,
    min_samples: int,
    routing_version: int,
    cutover_started: datetime | None = None,
    docs: bool = False,
) -> IntervalResult:
    """Judge the window [since, until); never raises for a measurement problem (that is an ``error`` outcome).

    ``docs``: validate in the file-backed GX project so the Data Docs keep this interval (seconds, not a fraction
    of one): the flow asks for it once per stage, for the interval that decided.
    """
    try:
        models = served_models(settings)
        samples = store.samples(source="gateway", since=since, until=until)
        traffic = traffic_of(samples)
        canary = [s for s in samples if s.backend == "vllm"]
        baseline: list[RequestSample] = [s for s in samples if s.backend == "ollama"]
        source: BaselineSource = "live"
        if sum(s.ok for s in baseline) < min_samples:
            stored = stored_baseline(store, settings.migration_id, cutover_started)
            if stored:
                baseline, source = stored, "stored"
        verdict = judge(settings, canary, baseline, min_samples=min_samples, docs=docs)
    except Exception as exc:  # noqa: BLE001 - any failure to measure is an "error" outcome, counted apart
        reason = f"measurement failed: {type(exc).__name__}: {exc}"
        return IntervalResult(
            since=since,
            until=until,
            measurement=Measurement(outcome="error", routing_version=routing_version, reasons=[reason]),
        )
    from checks.cutover import CRITICAL_COLUMNS

    critical = any(f.column in CRITICAL_COLUMNS and f.observed is not None for f in verdict.failures)
    measurement = Measurement(
        outcome=verdict.status, critical=critical, routing_version=routing_version, models=models,
        reasons=verdict.reasons,
    )  # fmt: skip
    return IntervalResult(
        since=since, until=until, measurement=measurement, verdict=verdict, baseline=source, traffic=traffic
    )


def judge(
    settings: Settings, canary: list[RequestSample], baseline: list[RequestSample], *, min_samples: int, docs: bool
) -> Verdict:
    from checks.gx_project import project_dir_for
    from checks.runner import run_suite

    thresholds = settings.thresholds.model_copy(update={"min_samples": min_samples})
    return run_suite(
        "cutover",
        canary,
        thresholds,
        baseline=baseline,
        project_dir=project_dir_for(settings) if docs else None,
        docs_base_url=settings.store.data_docs_base_url,
    )


def warm_up_gx() -> None:
    """GX's first validation in a process costs seconds to tens of seconds; pay it while a person reads the question."""
    from checks.runner import run_suite

    rows = [
        RequestSample(source="gateway", backend=backend, status=200, e2e_ms=100.0 + i, ttft_ms=10.0)  # type: ignore[arg-type]
        for backend in ("vllm", "ollama")
        for i in range(20)
    ]
    thresholds = Settings().thresholds.model_copy(update={"min_samples": 10, "bootstrap_resamples": 200})
    run_suite("cutover", rows, thresholds)


def served_models(settings: Settings, timeout_s: float = 5.0) -> list[str]:
    """The models vLLM serves now (a change resets the analysis); raises when vLLM cannot be asked."""
    url = (settings.gateway.vllm_url or settings.vllm.url).rstrip("/")
    key = settings.vllm.api_key.get_secret_value() if settings.vllm.api_key else None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{url}/v1/models", headers=headers, timeout=timeout_s)
    response.raise_for_status()
    return sorted(str(m.get("id", "")) for m in response.json().get("data", []))


def stored_baseline(store: Store, migration_id: str, cutover_started: datetime | None) -> list[RequestSample]:
    """The pre-cutover baseline: the team's own traffic through the gateway before the first client moved, else
    the validation's Ollama samples (the comparison the validate phase recorded), else none."""
    if cutover_started is not None:
        before = store.samples(
            source="gateway", backend="ollama", since=cutover_started - PRE_CUTOVER_LOOKBACK, until=cutover_started
        )
        if before:
            return before[-PRE_CUTOVER_SAMPLES:]
    for entry in reversed(store.ledger(migration_id)):
        if entry.phase != "validate" or entry.status != "succeeded" or not entry.result:
            continue
        comparison = entry.result.get("comparison_id")
        pair = store.get_state(f"comparison:{comparison}") if comparison else None
        if pair and pair.get("ollama_run_id"):
            return [s for s in store.samples(run_id=pair["ollama_run_id"]) if s.backend == "ollama"]
    return []


def traffic_of(samples: list[RequestSample]) -> Traffic:
    by_client: dict[str, Counter[str]] = {}
    for s in samples:
        by_client.setdefault(s.client or "(unnamed)", Counter())[s.backend] += 1
    ok = sum(s.ok for s in samples)
    return Traffic(
        sent=len(samples),
        ok=ok,
        failed=len(samples) - ok,
        by_backend=dict(Counter(s.backend for s in samples)),
        by_client={c: dict(n) for c, n in sorted(by_client.items())},
    )
