"""Phase 6: the same prompts to both endpoints; vLLM must answer completely, really stream, and say what Ollama
says. A failure rolls vLLM back exactly as a failed validation does (tasks/cleanup.py)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.deploy import Deployment
from o2v.errors import GateFailed
from o2v.plan import MigrationPlan
from o2v.smoke import SmokeResult, smoke_test
from tasks.cleanup import roll_back_after_gate
from tasks.common import MigrationContext, _artifact, run_phase


@task(name="smoke", task_run_name="smoke-{ctx.migration_id}", cache_policy=NO_CACHE, timeout_seconds=900)
def smoke_phase(ctx: MigrationContext, plan: MigrationPlan, deployment: Deployment) -> SmokeResult:
    def work() -> SmokeResult:
        api_key = ctx.settings.vllm.api_key
        try:
            return smoke_test(
                ctx.settings.ollama.url,
                plan.primary.ollama_tag,
                deployment.url,
                plan.served_model_names[0],
                api_key=api_key.get_secret_value() if api_key else None,
                timeout_s=ctx.settings.loadtest.request_timeout_s,
                report_dir=ctx.reports_dir / "smoke",
            )
        except GateFailed as failed:
            answers = ctx.reports_dir / "smoke" / "answers.md"
            if answers.exists():  # the failure artifact only names the reasons: show the answers beside it
                _artifact("smoke_answers", answers.read_text(encoding="utf-8"))
            # Same cleanup as a failed validation: vLLM down, logs kept, deploy cancelled, team told.
            roll_back_after_gate(ctx, "smoke test", "failed", failed.violations, actor="o2v-smoke")
            raise

    return run_phase(ctx, "smoke", work, SmokeResult, figures=_figures, upstream=(plan, deployment))


def _figures(result: SmokeResult) -> dict[str, str]:
    vllm_calls = [c for c in result.calls if c.backend == "vllm"]
    return {
        "vLLM calls ok": f"{sum(c.ok for c in vllm_calls)}/{len(vllm_calls)}",
        "differences": str(len(result.differences)),
        "answers": ", ".join(f"{c.similarity:.2f}" for c in result.comparisons) + " similarity to Ollama's",
        "side by side": result.report_files.get("markdown", "-"),
    }
