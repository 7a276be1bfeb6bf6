"""The rollback flow: take vLLM down, keep its logs for inspection, leave Ollama serving, tell the team.

The work is :func:`o2v.rollback.roll_back` (shared with the validate phase); this flow adds the parameters
form, the log line and the Slack message.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from o2v.config import load_settings
from o2v.deploy import TeardownResult
from o2v.notify import notifier_from_settings
from o2v.rollback import roll_back
from o2v.store import Store

__all__ = ["RollbackParameters", "roll_back", "rollback"]


class RollbackParameters(BaseModel):
    config_path: str | None = Field(None, description="migration.yaml on the worker.")
    migration_id: str | None = Field(None, description="Migration to roll back (default: from the config).")
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
    result = roll_back(settings, store, reason=params.reason, actor=params.actor)
    get_run_logger().info("rolled back %s: %s", settings.vllm.container_name, result)
    notifier = notifier_from_settings(settings, store=store)
    notifier.phase(
        settings.migration_id, "rollback", "succeeded",
        {"reason": params.reason, "by": params.actor, "clients": "all on Ollama"},
    )
    return result
