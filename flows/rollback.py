"""The rollback flow: every client back to Ollama through the gateway's table, then vLLM down (logs kept).

Works at any cutover stage. The work is :func:`o2v.rollback.roll_back` (shared with the validate phase and the
cutover); this flow adds the parameters form, the migration lock, the log line and the Slack message. ``keep_vllm``
only moves the clients back and leaves vLLM running (a re-run of the cutover then resumes at the stage it stopped at).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from o2v.config import MIGRATION_ID_PATTERN, load_settings
from o2v.decommission.models import RestoreResult
from o2v.deploy import TeardownResult
from o2v.notify import notifier_from_settings
from o2v.rollback import roll_back
from o2v.store import Store
from tasks.decommission import restore_task
from tasks.locking import hold_migration_lock

__all__ = ["RollbackParameters", "roll_back", "rollback"]


class RollbackParameters(BaseModel):
    config_path: str | None = Field(None, description="migration.yaml on the worker.")
    migration_id: str | None = Field(
        None, description="Migration to roll back (default: from the config).", pattern=MIGRATION_ID_PATTERN
    )
    reason: str = Field("manual rollback", description="Why; recorded in the audit log and sent to Slack.")
    actor: str = Field("prefect-ui", description="Who asked for it; recorded in the audit log.")
    keep_vllm: bool = Field(False, description="Only route every client back to Ollama; leave vLLM running.")
    to_ollama: bool = Field(
        False,
        description="After a decommission: restart Ollama from what was kept (ollama.host), wait for it, then "
        "route every client back to it through the gateway (vLLM keeps running).",
    )


@flow(name="rollback", log_prints=True, validate_parameters=True)
def rollback(params: RollbackParameters | None = None) -> TeardownResult | RestoreResult | None:
    """Route everything back to Ollama through the gateway; then stop and remove vLLM, keep its logs."""
    params = params or RollbackParameters()
    settings = load_settings(params.config_path)
    if params.migration_id:
        settings.migration_id = params.migration_id
    store = Store.from_settings(settings)
    notifier = notifier_from_settings(settings, store=store)
    if params.to_ollama:
        with hold_migration_lock(settings, store, notifier, "rollback"):
            restored = restore_task(settings, store, reason=params.reason, actor=params.actor)
        get_run_logger().info("rolled back to Ollama in %.1f s: %s", restored.total_s, restored)
        notifier.phase(
            settings.migration_id, "rollback to Ollama", "succeeded",
            {"reason": params.reason, "by": params.actor, "clients": "all on Ollama",
             "Ollama healthy after": f"{restored.healthy_after_s:.1f} s", "took": f"{restored.total_s:.1f} s"},
        )  # fmt: skip
        return restored
    # Not while a migrate run deploys or validates this migration: it would recreate what we tear down.
    with hold_migration_lock(settings, store, notifier, "rollback"):
        result = roll_back(settings, store, reason=params.reason, actor=params.actor, keep_vllm=params.keep_vllm)
    table = store.routing_table()
    get_run_logger().info(
        "rolled back: routing table v%d, every client on Ollama; vLLM %s", table.version,
        "kept running" if result is None else result,
    )
    notifier.phase(
        settings.migration_id, "rollback", "succeeded",
        {"reason": params.reason, "by": params.actor, "clients": "all on Ollama"},
    )
    return result
