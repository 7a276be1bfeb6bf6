"""The active probe: a short concurrency sweep against Ollama, capped in requests and in time.

It uses the project's load generator (closed loop: ``c`` requests always in flight), so each level's
throughput turns into a steady-state latency by Little's law, which is what the parallelism fit needs.
Ollama not answering is a result, not a crash: the outcome says so and a failed probe sample is stored,
so the baseline monitor keeps a record of the outage.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from o2v.config import Settings
from o2v.diagnose.models import ProbeOutcome
from o2v.diagnose.samples import level_from_stats
from o2v.errors import O2VError
from o2v.store import RequestSample, Store

PROBE_CLIENT = "o2v-diagnose"


def capped_levels(levels: list[int], requests_per_level: int, max_requests: int) -> tuple[list[int], int]:
    """Levels that fit the request cap (lowest first) and the per-level count (>= 2x the highest level)."""
    chosen = sorted(set(levels))
    while chosen:
        per_level = max(requests_per_level, 2 * chosen[-1])
        if sum(max(per_level, c) for c in chosen) <= max_requests:
            return chosen, per_level
        chosen.pop()
    return [1], min(requests_per_level, max_requests)


def _first_model(url: str, timeout_s: float) -> str:
    from o2v.servers.ollama_client import OllamaClient

    with OllamaClient(url, timeout_s=timeout_s) as client:
        models = client.tags()
    if not models:
        raise O2VError(f"expected at least one model at {url}/api/tags, found none; pull one or set "
                       "diagnose.probe_model")
    return str(models[0].name)


def run_probe(settings: Settings, *, url: str | None = None, store: Store | None = None,
              model: str | None = None) -> ProbeOutcome:
    """Sweep concurrency 1..N; never raises for an unreachable or failing server."""
    d = settings.diagnose
    url = url or settings.ollama.url
    started = time.monotonic()
    outcome = ProbeOutcome(attempted=True)
    try:
        outcome.model = model or d.probe_model or settings.loadtest.model or _first_model(url, 10.0)
        levels, per_level = capped_levels(d.probe_concurrency, d.probe_requests_per_level, d.probe_max_requests)
        result = asyncio.run(_sweep(settings, url, outcome.model, levels, per_level, store))
    except (TimeoutError, O2VError, OSError) as exc:
        outcome.error = f"{exc.__class__.__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - aiohttp and friends: the probe failed, the diagnosis goes on
        outcome.error = f"{exc.__class__.__name__}: {exc}"
    else:
        outcome.run_id = result.run_id
        outcome.levels = [level_from_stats(level, timeout_s=settings.ollama.timeout_s) for level in result.levels]
        outcome.requests_sent = sum(level.requests for level in result.levels)
        outcome.ok = bool(outcome.levels) and any(p.completed for p in outcome.levels)
        if not outcome.ok:
            outcome.error = "no probe request completed"
        elif result.interrupted:
            outcome.error = f"stopped at the time cap of {d.probe_max_duration_s:g} s; later levels were skipped"
    outcome.duration_s = round(time.monotonic() - started, 3)
    if not outcome.ok and store is not None:
        store.add_samples([RequestSample(
            source="probe", backend="ollama", client=PROBE_CLIENT, model=outcome.model or "", status=0,
            error_kind="probe_failed", run_id=outcome.run_id,
        )])
    return outcome


async def _sweep(settings: Settings, url: str, model: str, levels: list[int], per_level: int,
                 store: Store | None) -> Any:
    from o2v.loadgen import Workload, run_loadtest

    d = settings.diagnose
    workload = Workload(
        url=url, api="ollama", model=model, backend="ollama", source="probe", client=PROBE_CLIENT,
        concurrency=levels, requests_per_level=per_level, max_tokens=d.probe_max_tokens, temperature=0.0,
        request_timeout_s=settings.ollama.timeout_s * 2, warmup_requests=1,
    )
    stop = asyncio.Event()
    timer = asyncio.get_running_loop().call_later(d.probe_max_duration_s, stop.set)
    try:
        if store is None:
            return await run_loadtest(workload, stop=stop)
        async with store.writer() as writer:
            return await run_loadtest(workload, writer=writer, stop=stop)
    finally:
        timer.cancel()
