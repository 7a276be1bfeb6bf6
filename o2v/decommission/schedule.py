"""The one delayed decommission run: scheduled when the cutover's last stage passes, cancelled by a rollback.

``run_deployment(..., scheduled_time=..., idempotency_key=..., timeout=0)`` creates a Scheduled flow run of the
``decommission`` deployment and returns at once. Prefect returns the existing run for a key it has seen, so a
re-run of the cutover never schedules twice. A cancelled schedule must not block the next one, so every
cancellation moves the key on (``decommission-<id>``, then ``decommission-<id>-1``, ...), recorded in the store.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from o2v.config import Settings
from o2v.store import Store

DEPLOYMENT = "decommission/decommission"
STATE_KEY = "decommission.schedule:{}"
CANCELLABLE = frozenset({"SCHEDULED", "PENDING", "PAUSED"})


class ScheduledDecommission(BaseModel):
    migration_id: str
    flow_run_id: str
    scheduled_time: datetime
    idempotency_key: str
    generation: int = Field(0, ge=0, description="How many earlier schedules were cancelled.")
    cancelled: bool = False

    def how_to_cancel(self) -> str:
        return (
            f"cancel the flow run {self.flow_run_id} in the Prefect UI (or `prefect flow-run cancel "
            f"{self.flow_run_id}`); any rollback before then cancels it too"
        )

    def sentence(self) -> str:
        when = f"{self.scheduled_time:%Y-%m-%d %H:%M:%S} UTC"
        return f"Ollama's decommission is scheduled for {when}: {self.how_to_cancel()}"


def idempotency_key(migration_id: str, generation: int) -> str:
    return f"decommission-{migration_id}" + (f"-{generation}" if generation else "")


def load_schedule(store: Store, migration_id: str) -> ScheduledDecommission | None:
    raw = store.get_state(STATE_KEY.format(migration_id))
    return ScheduledDecommission.model_validate(raw) if raw else None


def schedule_decommission(
    settings: Settings,
    store: Store,
    *,
    config_path: str | None = None,
    now: datetime | None = None,
    notifier: Any | None = None,
    deployment: str = DEPLOYMENT,
) -> ScheduledDecommission:
    """Schedule the decommission ``cutover.decommission_after_days`` from now; the same run on a re-run."""
    from prefect.deployments import run_deployment

    previous = load_schedule(store, settings.migration_id)
    generation = 0
    if previous is not None:
        # The same key while that run may still happen; a fresh one once it was cancelled or has run.
        generation = previous.generation + (0 if _pending(previous) else 1)
    key = idempotency_key(settings.migration_id, generation)
    when = (now or datetime.now(UTC)) + timedelta(days=settings.cutover.decommission_after_days)
    params = {"params": {"config_path": config_path, "migration_id": settings.migration_id}}
    run = run_deployment(  # sync here: a flow or a CLI, never an event loop
        deployment, parameters=params, scheduled_time=when, idempotency_key=key, timeout=0, as_subflow=False,
        tags=[f"migration:{settings.migration_id}"],
    )  # fmt: skip
    assert not inspect.isawaitable(run)
    scheduled = run.expected_start_time or when
    result = ScheduledDecommission(
        migration_id=settings.migration_id, flow_run_id=str(run.id), scheduled_time=scheduled,
        idempotency_key=key, generation=generation,
    )  # fmt: skip
    store.set_state(STATE_KEY.format(settings.migration_id), result.model_dump(mode="json"))
    store.audit("o2v", "decommission-scheduled", settings.migration_id, {"flow_run": result.flow_run_id,
                "at": scheduled.isoformat(), "key": key})  # fmt: skip
    if notifier is not None:
        notifier.phase(settings.migration_id, "decommission", "scheduled",
                       {"runs at": f"{scheduled:%Y-%m-%d %H:%M} UTC", "cancel": result.how_to_cancel()})  # fmt: skip
    return result


def _state(flow_run_id: str) -> str:
    from uuid import UUID

    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
    return run.state.type.value if run.state else ""


def _pending(scheduled: ScheduledDecommission) -> bool:
    return not scheduled.cancelled and _state(scheduled.flow_run_id) in CANCELLABLE | {"RUNNING"}


def cancel_scheduled_decommission(store: Store, migration_id: str, *, reason: str, actor: str) -> bool:
    """Cancel the scheduled run if it has not started; True when one was cancelled."""
    from uuid import UUID

    from prefect import get_client
    from prefect.states import Cancelled

    scheduled = load_schedule(store, migration_id)
    if scheduled is None or scheduled.cancelled:
        return False
    if _state(scheduled.flow_run_id) not in CANCELLABLE:
        return False
    with get_client(sync_client=True) as client:
        message = f"cancelled by {actor}: {reason}"
        client.set_flow_run_state(UUID(scheduled.flow_run_id), Cancelled(message=message), force=True)
    done = scheduled.model_copy(update={"cancelled": True})
    store.set_state(STATE_KEY.format(migration_id), done.model_dump(mode="json"))
    store.audit(actor, "decommission-cancelled", migration_id, {"flow_run": scheduled.flow_run_id, "reason": reason})
    return True


def schedule_after_cutover(
    settings: Settings, store: Store, *, config_path: str | None, notifier: Any | None = None,
    deployment: str = DEPLOYMENT,
) -> str:
    """What the cutover calls once its last stage passed: the schedule's sentence, or why there is none.

    A cutover run where the ``decommission`` deployment does not exist (run from the CLI without ``o2v serve``,
    or in tests) has still finished its own work, so the missing deployment is said, not raised.
    """
    from prefect.exceptions import ObjectNotFound

    try:
        scheduled = schedule_decommission(
            settings, store, config_path=config_path, notifier=notifier, deployment=deployment
        )
        return scheduled.sentence()
    except ObjectNotFound:
        text = (
            f"Ollama's decommission is not scheduled: no {deployment!r} deployment on this Prefect server. "
            "What to do: deploy prefect.yaml (or run o2v serve), then run the decommission deployment when the "
            f"{settings.cutover.decommission_after_days:g} days are over"
        )
        if notifier is not None:
            notifier.phase(settings.migration_id, "decommission", "not scheduled", {"why": text})
        return text
