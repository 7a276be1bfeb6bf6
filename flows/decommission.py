"""The decommission flow: retire Ollama once the cutover has held, on evidence, with a person's yes.

Scheduled by the cutover (o2v.decommission.schedule) ``cutover.decommission_after_days`` after its last stage,
or run by hand. Refusals, blockers and an unstable or inconclusive window change nothing and end the run
Failed with every reason; a "no" or no answer in time (``slack.approval_timeout_s``) leaves Ollama running.
The approval pauses this run at the key ``decommission`` (Prefect UI resume form, Slack buttons).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from o2v.approvals.models import Question
from o2v.approvals.pause import ask, current_flow_run_id
from o2v.config import MIGRATION_ID_PATTERN, load_settings
from o2v.decommission.models import DecommissionResult
from o2v.decommission.run import evidence_of
from o2v.errors import GateFailed
from o2v.notify import notifier_from_settings
from o2v.store import Store
from tasks.common import _artifact
from tasks.decommission import assess_task, retire_task
from tasks.locking import hold_migration_lock

APPROVAL_KEY = "decommission"


class DecommissionParameters(BaseModel):
    config_path: str | None = Field(None, description="migration.yaml on the worker.")
    migration_id: str | None = Field(
        None, description="Migration whose Ollama to retire (default: from the config).", pattern=MIGRATION_ID_PATTERN
    )


@flow(name="decommission", log_prints=True, validate_parameters=True)
def decommission(params: DecommissionParameters | None = None) -> DecommissionResult:
    """Check the window, ask, then stop Ollama (what a rollback needs kept) and write the final compose."""
    params = params or DecommissionParameters()
    settings = load_settings(params.config_path)
    if params.migration_id:
        settings.migration_id = params.migration_id
    store = Store.from_settings(settings)
    notifier = notifier_from_settings(settings, store=store)
    log = get_run_logger()
    with hold_migration_lock(settings, store, notifier, "decommission"):
        entry = store.phase_started(settings.migration_id, "decommission", settings.config_hash())
        result = assess_task(settings, store)
    if result.outcome == "ready":
        # Asked without the lock, so that a rollback stays possible while the question waits; retire re-checks.
        question = Question(
            flow_run_id=current_flow_run_id(), key=APPROVAL_KEY, migration_id=settings.migration_id,
            title=f"Decommission Ollama ({settings.migration_id})?", evidence_markdown=evidence_of(result),
        )  # fmt: skip
        # Polled every second, as the cutover stages ask: an answer resumes the run without a 5 s lag.
        answer = ask(question, asker=notifier, audit=store, timeout_s=settings.slack.approval_timeout_s,
                     poll_interval_s=1.0)  # fmt: skip
        with hold_migration_lock(settings, store, notifier, "decommission"):
            result = retire_task(settings, store, result, answer)
    _artifact("decommission", result.to_markdown())
    log.info("decommission %s: %s", settings.migration_id, result.outcome)
    figures = {"outcome": result.outcome, "why": "; ".join(result.reasons)[:1800]}
    if result.outcome == "decommissioned":
        store.phase_finished(entry, "succeeded", result=result.model_dump(mode="json"))
        kept = result.kept.kept_list() if result.kept else ""
        figures.update({"kept": kept, "way back": result.rollback_command,
                        "final compose": ", ".join(result.final_compose)})  # fmt: skip
        notifier.phase(settings.migration_id, "decommission", "succeeded", figures)
        return result
    store.phase_finished(entry, "failed", result=result.model_dump(mode="json"), error="; ".join(result.reasons))
    notifier.phase(settings.migration_id, "decommission", result.outcome, figures)
    raise GateFailed(f"decommission ({result.outcome})", result.reasons or [result.outcome])
