"""Phase 3: can this GPU run vLLM beside Ollama? Every violation is listed at once."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.gpu import GPUReport, verify_gpu
from o2v.inventory import Inventory
from tasks.common import MigrationContext, run_phase


@task(name="verify_gpu", task_run_name="verify_gpu-{ctx.migration_id}", cache_policy=NO_CACHE, timeout_seconds=300)
def verify_gpu_phase(ctx: MigrationContext, inventory: Inventory) -> GPUReport:
    def work() -> GPUReport:
        report = verify_gpu(ctx.settings)
        report.raise_for_violations()
        return report

    return run_phase(ctx, "verify_gpu", work, GPUReport, figures=_figures)


def _figures(result: GPUReport) -> dict[str, str]:
    figures = {"verdict": result.verdict, "GPUs": ", ".join(g.name for g in result.selected) or "none"}
    if result.available_for_vllm_gib is not None:
        figures["free for vLLM beside Ollama"] = f"{result.available_for_vllm_gib:.1f} GiB"
    return figures
