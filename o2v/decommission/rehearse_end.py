"""The end of ``o2v rehearse``: Ollama's decommission on the simulators, without Docker.

The cutover flow has scheduled the real ``decommission`` deployment a few seconds ahead (the rehearsal's
``cutover.decommission_after_days``). While the gateway and the clients still run, this runs that flow run when it
is due (what a worker does), approves it through Prefect's resume API, and checks what it did: Ollama's simulator
stopped through the ``command`` host with its models directory kept, the final compose files written with Ollama
commented out. Then the ``rollback`` flow with ``to_ollama`` (restart, healthy, every client answered by Ollama
through the gateway) and forward again: every client back on vLLM and a second decommission, approved again.

With ``straggler=True`` one client calls Ollama directly from 127.0.0.2 before the decommission runs (the gateway
calls it from 127.0.0.1, ``decommission.gateway_addresses``): the decommission must be blocked, naming it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from o2v.config import load_settings
from o2v.decommission.final_compose import MARK
from o2v.decommission.models import RestoreResult
from o2v.decommission.ollama_host import ollama_host
from o2v.decommission.rehearsal import Approver, DecommissionRehearsal, last_result, run_scheduled
from o2v.decommission.schedule import load_schedule, schedule_decommission
from o2v.store import Store

if TYPE_CHECKING:
    from o2v.cutover.rehearsal import Traffic

STRAGGLER_ADDRESS = "127.0.0.2"  # all of 127/8 is loopback on Linux; the gateway stays on 127.0.0.1


def call_directly(ollama_url: str, model: str, requests: int = 3) -> str:
    """A forgotten script: ``requests`` x POST /api/generate straight to Ollama from 127.0.0.2."""
    transport = httpx.HTTPTransport(local_address=STRAGGLER_ADDRESS)
    with httpx.Client(transport=transport, timeout=30.0) as client:
        for _ in range(requests):
            body = {"model": model, "prompt": "hi", "stream": False, "options": {"num_predict": 4}}
            client.post(f"{ollama_url}/api/generate", json=body).raise_for_status()
    return STRAGGLER_ADDRESS


def answered_by_ollama(traffic: Traffic, before: dict[str, dict[str, int]], timeout_s: float = 15.0) -> list[str]:
    """The clients that got an answer from Ollama since ``before`` (waits until every client has, or timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = traffic.snapshot().by_client
        back = sorted(c for c, n in now.items() if n.get("ollama", 0) > before.get(c, {}).get("ollama", 0))
        if len(back) == len(now) or time.monotonic() > deadline:
            return back
        time.sleep(0.2)


def rehearse_decommission_end(config_path: Path, traffic: Traffic, *, straggler: bool = False) -> DecommissionRehearsal:
    from flows.rollback import RollbackParameters, rollback

    began = time.monotonic()
    settings = load_settings(config_path)
    store = Store.from_settings(settings)
    model = settings.loadtest.model or next(iter(settings.models), "llama3.1:8b")
    sent_before = traffic.snapshot()
    scheduled = load_schedule(store, settings.migration_id)
    summary = DecommissionRehearsal(migration_id=settings.migration_id, scheduled=scheduled, outcome="not scheduled",
                                    host=settings.ollama.host)  # fmt: skip
    if scheduled is None:
        summary.reasons = ["the cutover scheduled no decommission (is the decommission deployment applied?)"]
        return summary
    if straggler:
        summary.straggler_address = call_directly(settings.ollama.url, model)
    host = ollama_host(settings)
    with Approver() as approver:
        run_scheduled(scheduled.flow_run_id)
        result = last_result(store, settings.migration_id)
        summary.outcome = result.outcome if result else "unknown"
        summary.reasons = result.reasons if result else []
        summary.stragglers = result.blockers.stragglers if result else []
        summary.approved_by = approver.name if approver.answered else ""
        if result is not None and result.outcome == "decommissioned" and result.kept is not None:
            summary.container_stopped = not host.running()
            summary.kept = result.kept.volumes + result.kept.paths
            summary.volume_kept = all(Path(p).is_dir() for p in result.kept.paths)
            summary.final_compose = result.final_compose
            summary.ollama_commented_out = bool(result.final_compose) and all(
                f"  {MARK}ollama:" in Path(p).read_text() for p in result.final_compose
            )
            summary.gpu = result.gpu.sentence() if result.gpu else ""
            before = traffic.snapshot().by_client
            back = RollbackParameters(config_path=str(config_path), to_ollama=True,
                                      reason="rehearsal: the way back", actor="rehearsal")  # fmt: skip
            restored = rollback(back)
            summary.rollback = restored if isinstance(restored, RestoreResult) else None
            summary.clients_back_on_ollama = answered_by_ollama(traffic, before)
            summary.ollama_answers_after_rollback = bool(summary.clients_back_on_ollama) and len(
                summary.clients_back_on_ollama) == len(traffic.snapshot().by_client)  # fmt: skip
            # Forward again: every client back on vLLM (named and unnamed), then the decommission once more.
            table = store.routing_table()
            if table.routes:
                store.set_routes(dict.fromkeys(table.routes, "vllm"), actor="rehearsal", reason="forward again")
            store.set_percent(100, actor="rehearsal", reason="forward again")
            again = schedule_decommission(settings, store, config_path=str(config_path))
            run_scheduled(again.flow_run_id)
            second = last_result(store, settings.migration_id)
            summary.forward_again = second.outcome if second else "unknown"
    after = traffic.snapshot()
    summary.traffic_sent, summary.traffic_ok = after.sent - sent_before.sent, after.ok - sent_before.ok
    summary.duration_s = time.monotonic() - began
    return summary
