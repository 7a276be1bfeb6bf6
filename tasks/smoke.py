"""Phase 6: the same prompts to both endpoints; vLLM must answer completely and really stream."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.deploy import Deployment
from o2v.plan import MigrationPlan
from o2v.smoke import SmokeResult, smoke_test
from tasks.common import MigrationContext, run_phase


@task(name="smoke", task_run_name="smoke-{ctx.migration_id}", cache_policy=NO_CACHE, timeout_seconds=900)
def smoke_phase(ctx: MigrationContext, plan: MigrationPlan, deployment: Deployment) -> SmokeResult:
    def work() -> SmokeResult:
        api_key = ctx.settings.vllm.api_key
        return smoke_test(
            ctx.settings.ollama.url,
            plan.primary.ollama_tag,
            deployment.url,
            plan.served_model_names[0],
            api_key=api_key.get_secret_value() if api_key else None,
            timeout_s=ctx.settings.loadtest.request_timeout_s,
        )

    return run_phase(ctx, "smoke", work, SmokeResult, figures=_figures)


def _figures(result: SmokeResult) -> dict[str, str]:
    vllm_calls = [c for c in result.calls if c.backend == "vllm"]
    return {
        "vLLM calls ok": f"{sum(c.ok for c in vllm_calls)}/{len(vllm_calls)}",
        "differences": str(len(result.differences)),
    }
