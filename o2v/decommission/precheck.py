"""Bad input: a decommission with nothing behind it refuses with every reason and changes nothing.

Three things must hold before any evidence is even read: the cutover finished (its position in the store says
``done`` with every configured stage promoted, and the ledger has the last stage's success), the gateway's
table sends nobody to Ollama, and Ollama's service exists where ``ollama.host`` says (its container, its systemd
unit, or runnable start/stop commands): otherwise there is nothing to stop, nor to keep.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from o2v.config import Settings
from o2v.cutover.position import load_position
from o2v.cutover.stages import resolve_stages
from o2v.decommission.ollama_host import OllamaHost
from o2v.decommission.stragglers import routing_blockers
from o2v.errors import DeployError
from o2v.store import Store


class Precheck(BaseModel):
    refusals: list[str] = Field(default_factory=list)
    window_start: datetime | None = Field(None, description="When the cutover's last stage was promoted.")

    @property
    def ok(self) -> bool:
        return not self.refusals


def last_stage_finished(store: Store, migration_id: str, stage_count: int) -> datetime | None:
    """When the ledger recorded the last stage's success (the start of the stability window)."""
    phase = f"cutover-stage-{stage_count}"
    finished = [e.finished for e in store.ledger(migration_id) if e.phase == phase and e.status == "succeeded"]
    return max((f for f in finished if f is not None), default=None)


def precheck(settings: Settings, store: Store, ollama: OllamaHost) -> Precheck:
    refusals: list[str] = []
    stages = resolve_stages(settings)
    position = load_position(store, settings.migration_id)
    since = last_stage_finished(store, settings.migration_id, len(stages))
    if position.status != "done" or position.completed < len(stages) or since is None:
        refusals.append(
            f"no cutover behind it: migration {settings.migration_id!r} is at cutover status {position.status!r}, "
            f"{position.completed} of {len(stages)} stages promoted"
            + ("" if since else f", no successful cutover-stage-{len(stages)} in the ledger")
            + ". What to do: finish the cutover (the cutover deployment) first."
        )
    named, unnamed = routing_blockers(store.routing_table())
    if named or unnamed > 0:
        who = ", ".join(named + ([f"{unnamed:g} % of unnamed clients"] if unnamed > 0 else []))
        refusals.append(
            f"clients still routed to Ollama by the gateway: {who}. What to do: move them to vLLM (a cutover "
            "stage, or the gateway's admin API) or keep Ollama."
        )
    try:
        if ollama.find() is None:
            refusals.append(ollama.not_found_reason())
    except DeployError as exc:
        refusals.append(str(exc))
    return Precheck(refusals=refusals, window_start=since)
