"""Phase 4: the exact vLLM flags and compose files, from KV-cache arithmetic."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.diagnose import Diagnosis
from o2v.gpu import GPUReport
from o2v.inventory import Inventory
from o2v.plan import MigrationPlan, make_plan, render_compose
from tasks.common import MigrationContext, run_phase


@task(name="plan", task_run_name="plan-{ctx.migration_id}", cache_policy=NO_CACHE, timeout_seconds=300)
def plan_phase(
    ctx: MigrationContext, inventory: Inventory, gpu_report: GPUReport, diagnosis: Diagnosis
) -> MigrationPlan:
    def work() -> MigrationPlan:
        plan = make_plan(ctx.settings, inventory, gpu_report=gpu_report)
        render_compose(plan, ctx.reports_dir / "compose")
        return plan

    return run_phase(
        ctx, "plan", work, MigrationPlan, figures=_figures, upstream=(inventory, gpu_report, diagnosis)
    )


def _figures(result: MigrationPlan) -> dict[str, str]:
    spec = result.launch_spec()
    return {"vLLM command": " ".join(spec.command)[:300], "url": spec.url}
