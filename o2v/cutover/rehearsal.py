"""The cutover part of ``o2v rehearse``: the gateway on a local address, steady traffic from several simulated
clients through it, each stage approved through Prefect's resume API (the path the UI's form takes), and a summary
per stage. With ``fail_at_cutover`` vLLM is slowed (fault injection) when the second stage starts, to show the
automatic rollback.

Clients: ``ci-bot`` calls from 127.0.0.2 (named by address in the config), ``notebooks`` names itself with an
``X-O2V-Client`` header, and two unnamed callers come from 127.0.0.1 and 127.0.0.3; each alternates Ollama's native
API and the OpenAI API, streamed. A request counts as OK only when its stream ended with the API's end marker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from o2v.cutover.streams import chat_once
from o2v.store import Store

CLIENTS: list[tuple[str, str | None]] = [  # (source address, X-O2V-Client header)
    ("127.0.0.2", None), ("127.0.0.1", "notebooks"), ("127.0.0.1", None), ("127.0.0.3", None),
]  # fmt: skip
STREAMS_PER_CLIENT = 2


def cutover_config(gateway_admin: str) -> dict[str, Any]:
    """The rehearsal's cutover and gateway sections: two short stages, judged every 2 s."""
    stage = {"watch_window_s": 6, "interval_s": 2, "min_samples": 15}
    return {
        "cutover": {
            "clients": {"ci-bot": {"addresses": ["127.0.0.2"]}},
            "stages": [{"clients": ["ci-bot"], **stage}, {"percent": 100, **stage}],
            "inconclusive_limit": 10,
        },
        "gateway": {"admin_listen": gateway_admin, "refresh_s": 0.2},
    }


class ClientTally(BaseModel):
    sent: int = 0
    ok: int = 0
    failed: int = 0
    failures: list[str] = Field(default_factory=list, description="The first few, for the report.")
    by_client: dict[str, dict[str, int]] = Field(default_factory=dict, description="client -> backend -> ok")

    def failure(self, text: str) -> None:
        self.failed += 1
        if len(self.failures) < 10:
            self.failures.append(text)


class Traffic:
    """Steady streamed requests from :data:`CLIENTS` in a thread of their own until stopped."""

    def __init__(self, url: str, model: str) -> None:
        self.url, self.model, self.tally = url, model, ClientTally()
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._drive(),), daemon=True)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(60)

    def snapshot(self) -> ClientTally:
        return self.tally.model_copy(deep=True)

    async def _drive(self) -> None:
        import aiohttp

        async def client(address: str, header: str | None, index: int) -> None:
            connector = aiohttp.TCPConnector(limit=0, local_addr=(address, 0))
            timeout = aiohttp.ClientTimeout(total=120)
            name = header or ("ci-bot" if address == "127.0.0.2" else f"unnamed@{address}")
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                native = index % 2 == 0
                while not self.stop_event.is_set():
                    await self._one(session, name, header, native)
                    native = not native

        await asyncio.gather(*(client(a, h, i) for i, (a, h) in enumerate(CLIENTS) for _ in range(STREAMS_PER_CLIENT)))

    async def _one(self, session: Any, name: str, header: str | None, native: bool) -> None:
        self.tally.sent += 1
        exchange = await chat_once(session, self.url, model=self.model, native=native, content=f"hello from {name}",
                                   max_tokens=16, headers={"X-O2V-Client": header} if header else None)  # fmt: skip
        if exchange.error:
            self.tally.failure(f"{name} {exchange.path}: {exchange.error}")
            return
        self.tally.ok += 1
        counts = self.tally.by_client.setdefault(name, {})
        counts[exchange.backend] = counts.get(exchange.backend, 0) + 1


class Approver:
    """Approves every cutover question through Prefect's resume API; calls ``on_stage(n)`` as stage n is approved."""

    def __init__(self, store: Store, migration_id: str, on_stage: Callable[[int], None] | None = None) -> None:
        self.store, self.migration_id, self.on_stage = store, migration_id, on_stage
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Approver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def _run(self) -> None:
        from prefect import get_client
        from prefect.flow_runs import resume_flow_run

        from o2v.cutover.position import load_position

        answered: set[tuple[str, str]] = set()
        with get_client(sync_client=True) as client:
            while not self.stop.wait(0.3):
                run = load_position(self.store, self.migration_id).flow_run_id
                if not run:
                    continue
                state = client.read_flow_run(run).state  # type: ignore[arg-type]
                key = state.state_details.pause_key if state is not None and state.is_paused() else None
                if not key or (run, key) in answered:
                    continue
                answered.add((run, key))
                decision = "continue" if "-pause-" in key else "approve"
                resume_flow_run(UUID(run), run_input={"decision": decision, "approver": "rehearsal",
                                                "comment": "o2v rehearse approves every stage"})  # fmt: skip
                if decision == "approve" and self.on_stage is not None:
                    self.on_stage(int(key.removeprefix("stage-")))


class StageLine(BaseModel):
    stage: str
    moved: str
    verdict: str
    reason: str = ""
    sent: int = 0
    ok: int = 0
    failed: int = 0


class CutoverRehearsal(BaseModel):
    status: str = Field(..., description="done, or what stopped it (rolled-back, ...).")
    stages: list[StageLine] = Field(default_factory=list)
    clients: ClientTally = Field(default_factory=ClientTally, description="Counted by the clients, whole cutover.")
    routes: dict[str, str] = Field(default_factory=dict)
    percent: float = 0.0


def rehearse_cutover(
    config_path: Path, vllm_url: str, *, fail_at_cutover: bool, then: Callable[[Traffic], None] | None = None
) -> CutoverRehearsal:
    """Gateway up, traffic on, the cutover flow with every stage approved; what each stage did.

    ``then(traffic)`` runs after a cutover that finished, while the gateway and the clients still run (the
    decommission's part of the rehearsal: its evidence and its rollback need both)."""
    from flows.cutover import CutoverParameters, cutover
    from o2v.config import load_settings
    from o2v.cutover.position import load_position
    from o2v.gateway.process import GatewayProcess
    from o2v.simulate.process import free_port

    settings = load_settings(config_path)
    store = Store.from_settings(settings)
    model = settings.loadtest.model or next(iter(settings.models), "llama3.1:8b")

    def degrade(stage: int) -> None:
        if fail_at_cutover and stage == 2:
            import httpx

            httpx.post(f"{vllm_url}/_sim/faults", json={"added_latency_ms": 3000}, timeout=5).raise_for_status()

    listen = f"127.0.0.1:{free_port()}"
    error: Exception | None = None
    with GatewayProcess(config_path, listen=listen), Traffic(f"http://{listen}", model) as traffic:
        time.sleep(4)  # the pre-cutover baseline: the clients' own traffic on Ollama
        with Approver(store, settings.migration_id, on_stage=degrade):
            try:
                summary = cutover(CutoverParameters(config_path=str(config_path)))
                reports = summary.stages
            except Exception as exc:  # noqa: BLE001 - a failed cutover is a result to show, not a crash
                error, reports = exc, []
        if error is None and then is not None:
            then(traffic)
        time.sleep(2)  # a moment of traffic after the last change: no request may fail across it
    table = store.routing_table()
    position = load_position(store, settings.migration_id)
    result = CutoverRehearsal(
        status="done" if error is None else position.status, clients=traffic.snapshot(),
        routes=dict(table.routes), percent=table.percent,
    )  # fmt: skip
    for report in reports or _stored_reports(store, settings.migration_id):
        t = report.traffic
        result.stages.append(StageLine(
            stage=report.stage.key, moved=report.stage.moves(), verdict=report.end, reason=report.reason,
            sent=t.sent, ok=t.ok, failed=t.failed,
        ))  # fmt: skip
    return result


def _stored_reports(store: Store, migration_id: str) -> list[Any]:
    """The stage reports the ledger kept (a failed run returns none)."""
    from o2v.cutover.watch import StageReport

    return [
        StageReport.model_validate(e.result)
        for e in store.ledger(migration_id)
        if e.phase.startswith("cutover-stage-") and e.result
    ]
