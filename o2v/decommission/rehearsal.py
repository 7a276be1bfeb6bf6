"""The decommission, rehearsed end to end on this machine with Ollama in Docker (``o2v rehearse-decommission``):
scheduled a few seconds ahead through the real deployment, checked, approved through Prefect's resume API, Ollama's
container stopped with its volume kept, the final compose files written, then a rollback to Ollama and forward
again. With ``straggler=True`` one simulated client calls Ollama directly from its own container, and the
decommission must be blocked, naming it. The summary, the approver and the scheduled run's runner are shared with
the end of ``o2v rehearse`` (``rehearse_end.py``, no Docker).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from o2v.decommission.models import DecommissionResult, RestoreResult, Straggler
from o2v.decommission.schedule import ScheduledDecommission, schedule_decommission
from o2v.store import Store


class DecommissionRehearsal(BaseModel):
    migration_id: str
    scheduled: ScheduledDecommission | None = Field(None, description="None: the cutover scheduled nothing.")
    outcome: str
    reasons: list[str] = Field(default_factory=list)
    straggler_address: str | None = None
    stragglers: list[Straggler] = Field(default_factory=list)
    approved_by: str = ""
    host: str = Field("docker", description="ollama.host: how Ollama was stopped and started again.")
    container_stopped: bool = Field(False, description="Ollama stopped (its container, unit or process).")
    volume_kept: bool = Field(False, description="Its models kept (the volume, or the models directory).")
    kept: list[str] = Field(default_factory=list, description="What was kept, as the result recorded it.")
    final_compose: list[str] = Field(default_factory=list)
    ollama_commented_out: bool = Field(False, description="Every final compose file has Ollama's service commented.")
    gpu: str = ""
    rollback: RestoreResult | None = None
    ollama_answers_after_rollback: bool = False
    clients_back_on_ollama: list[str] = Field(
        default_factory=list, description="Clients whose requests Ollama answered through the gateway after it."
    )
    forward_again: str = Field("", description="Outcome of the second decommission after the rollback.")
    traffic_ok: int = 0
    traffic_sent: int = 0
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        """Decommissioned, rolled back to Ollama with it answering, and decommissioned again."""
        return (
            self.outcome == "decommissioned" and self.container_stopped and self.volume_kept
            and self.rollback is not None and self.ollama_answers_after_rollback
            and self.forward_again == "decommissioned"
        )  # fmt: skip

    def lines(self) -> list[str]:
        when = self.scheduled.sentence() if self.scheduled else "not scheduled"
        out = [f"decommission   {when}", f"  outcome      {self.outcome}"]
        out += [f"  straggler    {s.sentence()}" for s in self.stragglers]
        if self.outcome == "decommissioned":
            out += [
                f"  approved by  {self.approved_by}; Ollama stopped ({self.host}): {self.container_stopped}, "
                f"models kept: {self.volume_kept} ({', '.join(self.kept) or 'nothing recorded'})",
                f"  final compose {', '.join(self.final_compose)}"
                + ("; Ollama commented out" if self.ollama_commented_out else ""),
                f"  {self.gpu}",
            ]
        elif self.outcome not in ("blocked",):
            out += [f"  why          {reason}" for reason in self.reasons[:5]]
        if self.rollback is not None:
            back = ", ".join(self.clients_back_on_ollama) or "no client seen"
            out.append(f"  rollback to Ollama: healthy after {self.rollback.healthy_after_s:.1f} s, "
                       f"{self.rollback.total_s:.1f} s in all; answered on Ollama: {back}")  # fmt: skip
            out.append(f"  forward again: {self.forward_again}")
        out.append(f"  traffic      {self.traffic_ok}/{self.traffic_sent} ok through the gateway")
        return out


class Approver:
    """Answers every paused run at key ``decommission`` through Prefect's resume API, as the UI's form does."""

    def __init__(self, name: str = "rehearsal") -> None:
        self.name = name
        self.answered: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="decommission-approver", daemon=True)

    def __enter__(self) -> Approver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
        from prefect.client.schemas.objects import StateType
        from prefect.flow_runs import resume_flow_run

        with get_client(sync_client=True) as client:
            while not self.stop.is_set():
                paused = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))  # fmt: skip
                for run in paused:
                    details = run.state.state_details if run.state else None
                    if details is None or details.pause_key != "decommission" or not details.run_input_keyset:
                        continue
                    if str(run.id) not in self.answered:
                        resume_flow_run(run.id, run_input={"decision": "approve", "approver": self.name,
                                                           "comment": "rehearsal: evidence read"})  # fmt: skip
                        self.answered.append(str(run.id))
                time.sleep(0.3)


def run_scheduled(flow_run_id: str, *, timeout_s: float = 120.0) -> tuple[Any, DecommissionResult | None]:
    """Wait for the scheduled time, then run that flow run here (what a worker would do)."""
    from uuid import UUID

    from prefect import get_client
    from prefect.flow_engine import run_flow

    from flows.decommission import decommission

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
    if run.expected_start_time is not None:
        wait = (run.expected_start_time.timestamp() - time.time())
        time.sleep(max(0.0, min(wait, timeout_s)))
    state = run_flow(decommission, flow_run=run, return_type="state")
    result = state.result(raise_on_failure=False) if state.is_completed() else None  # type: ignore[union-attr]
    return state, result if isinstance(result, DecommissionResult) else None


def last_result(store: Store, migration_id: str) -> DecommissionResult | None:
    """The latest decommission outcome, from the ledger (a blocked run ends Failed, its result still recorded)."""
    entries = [e for e in store.ledger(migration_id) if e.phase == "decommission" and e.result]
    return DecommissionResult.model_validate(entries[-1].result) if entries else None


def rehearse_decommission(workdir: Path, *, straggler: bool = False, traffic: int = 60) -> DecommissionRehearsal:
    from flows.decommission import decommission
    from flows.rollback import RollbackParameters, rollback
    from o2v.decommission.scene import Scene  # the scene imports o2v.rehearse, which imports this module

    began = time.monotonic()
    with Scene(workdir, min_samples=min(40, traffic // 2)) as scene:
        store = scene.store()
        scene.seed_cutover(store)
        scene.render_compose()
        ok = scene.traffic(traffic)
        address = scene.straggler() if straggler else None
        decommission.to_deployment(name="decommission").apply()  # type: ignore[union-attr]
        settings = scene.settings()
        scheduled = schedule_decommission(settings, store, config_path=str(scene.config_path))
        with Approver() as approver:
            run_scheduled(scheduled.flow_run_id)
            result = last_result(store, scene.migration_id)
            summary = DecommissionRehearsal(
                migration_id=scene.migration_id, scheduled=scheduled, outcome=result.outcome if result else "unknown",
                reasons=result.reasons if result else [], straggler_address=address,
                stragglers=result.blockers.stragglers if result else [], traffic_ok=ok, traffic_sent=traffic,
                approved_by=approver.name if approver.answered else "",
            )  # fmt: skip
            if result is not None and result.outcome == "decommissioned":
                container = scene.docker.containers.get(scene.container_name)
                summary.container_stopped = container.status != "running"
                summary.volume_kept = any(v.name == scene.volume_name for v in scene.docker.volumes.list())
                summary.final_compose = result.final_compose
                summary.kept = result.kept.volumes if result.kept else []
                summary.gpu = result.gpu.sentence() if result.gpu else ""
                back = RollbackParameters(config_path=str(scene.config_path), to_ollama=True,
                                          reason="rehearsal: the way back", actor="rehearsal")  # fmt: skip
                restored = rollback(back)
                summary.rollback = restored if isinstance(restored, RestoreResult) else None
                summary.ollama_answers_after_rollback = scene.traffic(4) == 4
                # Forward again: every client back to vLLM, and the decommission once more (approved again).
                store.set_percent(100, actor="rehearsal", reason="forward again")
                again = schedule_decommission(settings, store, config_path=str(scene.config_path))
                run_scheduled(again.flow_run_id)
                second = last_result(store, scene.migration_id)
                summary.forward_again = second.outcome if second else "unknown"
        summary.duration_s = time.monotonic() - began
        return summary
