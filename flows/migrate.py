"""The migrate flow: diagnose -> inventory -> verify_gpu -> plan -> deploy -> smoke -> validate (-> cutover).

Entry point only: it loads the settings (a bad configuration stops the run before anything is touched),
builds the context, takes the migration's lock in the store (one run per migration and container; a refused run
says who holds it), and sequences the phase tasks. Each phase goes through the ledger, keyed by its own inputs,
so a re-run with the same migration id resumes at the phase that failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from o2v.config import MIGRATION_ID_PATTERN, Settings, load_settings
from o2v.errors import ConfigError, PhaseError
from o2v.phases import Phase, PhaseOutcome, PhaseRunner
from o2v.store import Store
from tasks.common import MigrationContext
from tasks.deploy import deploy_phase
from tasks.diagnose import diagnose_phase
from tasks.gpu import verify_gpu_phase
from tasks.inventory import inventory_phase
from tasks.locking import hold_migration_lock
from tasks.plan import plan_phase
from tasks.smoke import smoke_phase
from tasks.validate import validate_phase


class MigrateParameters(BaseModel):
    """The form the Prefect UI shows for a migrate run."""

    config_path: str | None = Field(
        None, description="migration.yaml on the worker (default: $O2V_CONFIG, else ./migration.yaml)."
    )
    migration_id: str | None = Field(
        None, description="Ledger key; re-use it to resume a failed migration (default: from the config).",
        pattern=MIGRATION_ID_PATTERN,
    )
    from_phase: Phase | None = Field(None, description="Run this phase and every later one again, even if done.")
    dry_run: bool = Field(False, description="Stop after the plan: deploy nothing.")
    scan_paths: list[str] = Field(default_factory=list, description="Source trees to scan for Ollama clients.")
    probe: bool = Field(True, description="Send a capped probe sweep to Ollama during diagnosis.")
    log_file: str | None = Field(None, description="An Ollama log file to diagnose from (else the configured source).")
    continue_to_cutover: bool = Field(
        False, description="After a passed validation, run the cutover flow (approval before each stage) as a subflow."
    )


class MigrationSummary(BaseModel):
    migration_id: str
    status: Literal["validated", "planned", "cut over"]
    phases: list[PhaseOutcome]
    vllm_url: str | None = None
    reports_dir: str


def run_name() -> str:
    """``migrate-<migration id>`` (``-from-<phase>`` on a forced re-run): the name the Prefect UI lists."""
    from prefect.runtime import flow_run

    given = flow_run.parameters.get("params") or {}
    params = given if isinstance(given, MigrateParameters) else MigrateParameters.model_validate(given)
    migration_id = params.migration_id
    if not migration_id:
        try:
            migration_id = load_settings(params.config_path).migration_id
        except ConfigError:
            migration_id = "unconfigured"  # the flow itself reports the configuration problems
    return f"migrate-{migration_id}" + (f"-from-{params.from_phase}" if params.from_phase else "")


# Not `MigrateParameters | None`: the UI would show a None/object switch set to None, and hide every field.
DEFAULT_PARAMETERS = MigrateParameters()


@flow(name="migrate", flow_run_name=run_name, log_prints=True, validate_parameters=True)
def migrate(params: MigrateParameters = DEFAULT_PARAMETERS) -> MigrationSummary:
    """Move the team from Ollama to vLLM up to a validated side-by-side deployment."""
    logger = get_run_logger()
    try:
        settings = load_settings(params.config_path)
    except ConfigError as exc:
        # Nothing has been touched yet; the state message lists every problem.
        raise PhaseError("(configuration)", str(exc), "run `o2v config check` and fix every line") from exc
    if params.migration_id:
        settings.migration_id = params.migration_id
    ctx = build_context(settings, from_phase=params.from_phase)
    logger.info("migration %s, config hash %s", settings.migration_id, settings.config_hash())
    with hold_migration_lock(
        settings, ctx.store, ctx.notifier, "migrate", flow_run_url=ctx.flow_run_url
    ) as lock:
        ctx.runner.guard = lock.check  # a run whose lock was taken over stops before its next phase
        diagnosis = diagnose_phase(ctx, log_file=params.log_file, probe=params.probe)
        inventory = inventory_phase(ctx, scan_paths=params.scan_paths)
        gpu_report = verify_gpu_phase(ctx, inventory)
        plan = plan_phase(ctx, inventory, gpu_report, diagnosis)
        if params.dry_run:
            return _summary(ctx, "planned", None)
        deployment = deploy_phase(ctx, plan)
        smoke_phase(ctx, plan, deployment)
        validate_phase(ctx, plan, deployment)
    if params.continue_to_cutover:
        # A subflow, not a new deployment run: the same worker, the same logs, and the migrate run ends Failed when
        # a stage is rejected or rolled back (a re-run with the same id skips the done phases and resumes the stage).
        # Outside the migrate lock: the cutover waits for people, and a rollback must stay possible meanwhile.
        from flows.cutover import CutoverParameters, cutover

        cutover(CutoverParameters(config_path=params.config_path, migration_id=settings.migration_id))
        return _summary(ctx, "cut over", deployment.url)
    return _summary(ctx, "validated", deployment.url)


def build_context(settings: Settings, *, from_phase: str | None = None) -> MigrationContext:
    from o2v.notify import notifier_from_settings
    from tasks.notify import current_flow_run_url

    store = Store.from_settings(settings)
    reports_dir = Path(settings.workdir) / "reports" / settings.migration_id
    reports_dir.mkdir(parents=True, exist_ok=True)
    return MigrationContext(
        settings=settings,
        store=store,
        runner=PhaseRunner(store, settings.migration_id, settings.config_hash(), from_phase=from_phase),
        notifier=notifier_from_settings(settings, store=store),
        reports_dir=reports_dir,
        flow_run_url=current_flow_run_url(),
    )


def _summary(
    ctx: MigrationContext, status: Literal["validated", "planned", "cut over"], url: str | None
) -> MigrationSummary:
    return MigrationSummary(
        migration_id=ctx.migration_id, status=status, phases=ctx.runner.outcomes, vllm_url=url,
        reports_dir=str(ctx.reports_dir),
    )
