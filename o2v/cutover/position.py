"""Where a migration's cutover stands, kept in the store so that a re-run resumes at the stage it stopped at.

``completed`` is the last stage that was watched and promoted; ``in_force`` the stage whose routes the gateway
applies now (after a rollback to Ollama, 0). A re-run starts at ``completed + 1``, always after a fresh approval:
a rejected, timed-out or rolled-back stage is asked again, never entered silently. Each stage also leaves a
ledger row (phase ``cutover-stage-<n>``), so ``o2v`` shows the cutover beside the other phases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from o2v.store import Store
from o2v.store_schema import utcnow

Status = Literal["not-started", "asking", "watching", "rejected", "timed-out", "rolled-back", "stopped", "done"]


class CutoverPosition(BaseModel):
    migration_id: str
    completed: int = Field(0, ge=0, description="Last stage watched and promoted (0: none).")
    in_force: int = Field(0, ge=0, description="Stage whose routes are in force (0: everyone on Ollama).")
    status: Status = "not-started"
    reason: str = ""
    flow_run_id: str | None = None
    started: datetime | None = Field(None, description="When the first stage first took effect: the baseline's end.")
    updated: datetime = Field(default_factory=utcnow)

    @property
    def next_stage(self) -> int:
        return self.completed + 1


def state_key(migration_id: str) -> str:
    return f"cutover:{migration_id}"


def load_position(store: Store, migration_id: str) -> CutoverPosition:
    raw = store.get_state(state_key(migration_id))
    return CutoverPosition.model_validate(raw) if raw else CutoverPosition(migration_id=migration_id)


def save_position(store: Store, position: CutoverPosition, **changes: object) -> CutoverPosition:
    updated = position.model_copy(update={**changes, "updated": utcnow()})
    CutoverPosition.model_validate(updated.model_dump())  # a bad status or count never reaches the store
    store.set_state(state_key(position.migration_id), updated.model_dump(mode="json"))
    return updated
