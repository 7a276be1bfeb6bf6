"""Phase 1: is the bottleneck really concurrency? (o2v.diagnose does the work.)"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.diagnose import Diagnosis, diagnose
from tasks.common import MigrationContext, run_phase


@task(name="diagnose", task_run_name="diagnose-{ctx.migration_id}", cache_policy=NO_CACHE, timeout_seconds=1800)
def diagnose_phase(ctx: MigrationContext, *, log_file: str | None = None, probe: bool = True) -> Diagnosis:
    def work() -> Diagnosis:
        return diagnose(ctx.settings, store=ctx.store, log_path=Path(log_file) if log_file else None, probe=probe)

    return run_phase(
        ctx, "diagnose", work, Diagnosis, figures=_figures, params={"log_file": log_file, "probe": probe}
    )


def _figures(result: Diagnosis) -> dict[str, str]:
    return {
        "verdict": str(result.verdict),
        "effective parallelism": "-" if result.effective_parallelism is None else f"{result.effective_parallelism:.1f}",
        "plausible slots": ", ".join(map(str, result.plausible_slots)) or "-",
        "fit confidence": result.parallelism_confidence or "-",
        "queueing share": "-" if result.queue_share is None else f"{result.queue_share:.0%}",
        "reasons": "; ".join(result.reasons[:3]),
    }
