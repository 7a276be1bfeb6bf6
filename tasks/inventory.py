"""Phase 2: every model and every client integration point."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.inventory import Inventory, take_inventory
from o2v.inventory.report import write_reports
from tasks.common import MigrationContext, run_phase
from tasks.retrying import retry_transient


@task(
    name="inventory", task_run_name="inventory-{ctx.migration_id}", cache_policy=NO_CACHE, timeout_seconds=900,
    retries=2, retry_delay_seconds=[10, 30], retry_condition_fn=retry_transient,  # Ollama restarting, a 503
)
def inventory_phase(ctx: MigrationContext, *, scan_paths: list[str]) -> Inventory:
    def work() -> Inventory:
        inventory = take_inventory(ctx.settings, scan_paths=scan_paths)
        write_reports(inventory, ctx.reports_dir / "inventory")
        return inventory

    return run_phase(ctx, "inventory", work, Inventory, figures=_figures, params={"scan_paths": sorted(scan_paths)})


def _figures(result: Inventory) -> dict[str, str]:
    return {
        "models": ", ".join(m.name for m in result.models) or "none",
        "client integration points": str(len(result.integration_points)),
        "clients in the access log": str(len(result.clients)),
        "problems": "; ".join(result.problems) or "none",
    }
