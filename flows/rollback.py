"""The rollback flow: take vLLM down, keep its logs for inspection, leave Ollama serving, tell the team.

The work is :func:`o2v.rollback.roll_back` (shared with the validate phase); this flow adds the parameters
form, the migration lock, the log line and the Slack message.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from o2v.config import MIGRATION_ID_PATTERN, load_settings
from o2v.deploy import TeardownResult
from o2v.notify import notifier_from_settings
from o2v.rollback import roll_back
from o2v.store import Store
from tasks.locking import hold_migration_lock

__all__ = ["RollbackParameters", "roll_back", "rollback"]


class RollbackParameters(BaseModel):
    config_path: str | None = Field(None, description="migration.yaml on the worker.")
    migration_id: str | None = Field(
        None, description="Migration to roll back (default: from the config).", pattern=MIGRATION_ID_PATTERN
    )
    reason: str = Field("manual rollback", description="Why; recorded in the audit log and sent to Slack.")
    actor: str = Field("prefect-ui", description="Who asked for it; recorded in the audit log.")


@flow(name="rollback", log_prints=True, validate_parameters=True)
def rollback(params: RollbackParameters | None = None) -> TeardownResult:
    """Route everything back to Ollama: stop and remove vLLM, keep its logs."""
    params = params or RollbackParameters()
    settings = load_settings(params.config_path)
    if params.migration_id:
        settings.migration_id = params.migration_id
    store = Store.from_settings(settings)
    notifier = notifier_from_settings(settings, store=store)
    # Not while a migrate run deploys or validates this migration: it would recreate what we tear down.
    with hold_migration_lock(settings, store, notifier, "rollback"):
        result = roll_back(settings, store, reason=params.reason, actor=params.actor)
    get_run_logger().info("rolled back %s: %s", settings.vllm.container_name, result)
    notifier.phase(
        settings.migration_id, "rollback", "succeeded",
        {"reason": params.reason, "by": params.actor, "clients": "all on Ollama"},
    )
    return result
