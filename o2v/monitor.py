"""The baseline monitor's logic: a small scheduled probe of Ollama, and "alert once per crossing" state.

Every run sends a small representative workload through the load generator (source "probe"), so the store
accumulates a baseline of what the team's Ollama delivers over the day. The "baseline" GX suite then judges the
last ``monitor.window_s`` of probes. Alerting is edge-triggered: the state machine below remembers (in the
store, per Ollama URL) whether the endpoint is currently outgrown, so the team hears about a crossing once, and
again only after the endpoint recovered (the suite passed) and crossed again. An inconclusive window changes
nothing. An unreachable Ollama is a failed probe recorded as a sample, reported once per outage, never a crash.

    ok  ──fail──► outgrown (alert)  ──pass──► ok (recovered; no message)
    any ──probe failed──► unreachable (alert once)  ──probe ok──► back to its previous state
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from o2v.config import Settings
from o2v.errors import O2VError
from o2v.store import RequestSample, Store, utcnow

if TYPE_CHECKING:
    from o2v.loadgen import LoadTestResult

PROBE_CLIENT = "o2v-baseline"
FAILED_PROBE_KIND = "probe_failed"
STATE_PREFIX = "baseline-monitor:"

Action = Literal["alert_outgrown", "alert_unreachable", "recovered", "none"]


class ProbeResult(BaseModel):
    """What one probe run did."""

    ok: bool = False
    started: datetime = Field(default_factory=utcnow, description="When the probe began (UTC); anchors the window.")
    run_id: str | None = None
    model: str | None = None
    requests: int = 0
    completed: int = 0
    duration_s: float = 0.0
    error: str | None = Field(None, description="Why the probe failed or was cut short; None when it ran fully.")


class MonitorState(BaseModel):
    """Kept in the store between scheduled runs (``baseline-monitor:<ollama url>``)."""

    outgrown: bool = False
    outgrown_since: datetime | None = None
    unreachable: bool = False
    alerts_sent: int = 0
    last_status: str | None = None
    last_checked: datetime | None = None


def probe_model(settings: Settings) -> str:
    """The configured probe model, else the first model Ollama lists."""
    configured = settings.monitor.probe_model or settings.diagnose.probe_model or settings.loadtest.model
    if configured:
        return configured
    if settings.models:
        return next(iter(settings.models))
    from o2v.servers.ollama_client import OllamaClient

    with OllamaClient(settings.ollama.url, timeout_s=10.0) as client:
        models = client.tags()
    if not models:
        raise O2VError(
            f"expected at least one model at {settings.ollama.url}/api/tags, found none; "
            "pull one or set monitor.probe_model"
        )
    return str(models[0].name)


def run_probe(settings: Settings, store: Store) -> ProbeResult:
    """Probe Ollama once and record every request; never raises for an unreachable or failing server."""
    started = time.monotonic()
    result = ProbeResult()
    try:
        result.model = probe_model(settings)
        outcome = asyncio.run(_probe(settings, store, result.model))
    except Exception as exc:  # noqa: BLE001 - refused, DNS, HTTP errors, aiohttp: all mean "probe failed"
        result.error = f"{exc.__class__.__name__}: {exc}"
    else:
        result.run_id = outcome.run_id
        result.requests = len(outcome.samples)
        result.completed = sum(1 for s in outcome.samples if s.ok)
        result.ok = result.completed > 0
        if not result.ok:
            result.error = f"none of the {result.requests} probe requests completed"
        elif outcome.interrupted:
            result.error = f"cut at monitor.probe_max_duration_s={settings.monitor.probe_max_duration_s:g} s"
    result.duration_s = round(time.monotonic() - started, 3)
    if not result.ok:
        store.add_samples(
            [
                RequestSample(
                    source="probe",
                    backend="ollama",
                    client=PROBE_CLIENT,
                    model=result.model or "",
                    status=0,
                    error_kind=FAILED_PROBE_KIND,
                    run_id=result.run_id,
                )
            ]
        )
    return result


async def _probe(settings: Settings, store: Store, model: str) -> LoadTestResult:
    from o2v.loadgen import Workload, run_loadtest

    m = settings.monitor
    workload = Workload(
        url=settings.ollama.url,
        api="ollama",
        model=model,
        backend="ollama",
        source="probe",
        client=PROBE_CLIENT,
        concurrency=list(m.probe_concurrency),
        requests_per_level=m.probe_requests_per_level,
        max_tokens=m.probe_max_tokens,
        temperature=0.0,
        warmup_requests=0,
        # The team's own client timeout: a probe that takes longer is a timeout the team would have seen.
        request_timeout_s=settings.ollama.timeout_s,
        connect_timeout_s=min(10.0, settings.ollama.timeout_s),
        seed=int(time.time()) // 60,
    )
    stop = asyncio.Event()
    timer = asyncio.get_running_loop().call_later(m.probe_max_duration_s, stop.set)
    try:
        async with store.writer() as writer:
            return await run_loadtest(workload, writer=writer, stop=stop)
    finally:
        timer.cancel()


def window_samples(settings: Settings, store: Store, *, anchor: datetime | None = None) -> list[RequestSample]:
    """Ollama probe samples from ``window_s`` before ``anchor`` (the probe's start) until now.

    Anchoring at the probe's start keeps the probe just sent inside the window however long the run took.
    Failed-probe markers are left out: an outage is not a latency, and it is reported on its own.
    """
    since = (anchor or utcnow()) - timedelta(seconds=settings.monitor.window_s)
    samples = store.samples(source="probe", backend="ollama", since=since)
    return [s for s in samples if s.error_kind != FAILED_PROBE_KIND]


def state_key(settings: Settings) -> str:
    return STATE_PREFIX + settings.ollama.url


def load_state(store: Store, key: str) -> MonitorState:
    raw = store.get_state(key)
    return MonitorState.model_validate(raw) if raw else MonitorState()


def advance(
    state: MonitorState, *, probe_ok: bool, verdict_status: str, now: datetime | None = None
) -> tuple[MonitorState, Action]:
    """The next state and what to tell the team; pure, so every transition is unit-tested."""
    now = now or utcnow()
    new = state.model_copy(update={"last_checked": now, "last_status": verdict_status if probe_ok else "unreachable"})
    if not probe_ok:
        if state.unreachable:
            return new, "none"
        new.unreachable = True
        new.alerts_sent += 1
        return new, "alert_unreachable"
    new.unreachable = False
    if verdict_status == "fail" and not state.outgrown:
        new.outgrown, new.outgrown_since = True, now
        new.alerts_sent += 1
        return new, "alert_outgrown"
    if verdict_status == "pass" and state.outgrown:
        new.outgrown, new.outgrown_since = False, None
        return new, "recovered"
    return new, "none"
