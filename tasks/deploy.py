"""Phase 5: vLLM beside Ollama (container or process), idempotent, healthy before we go on."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.config import Settings
from o2v.deploy import Deployment, deploy, status
from o2v.plan import MigrationPlan
from o2v.plan.gpu_recheck import GPURecheck, recheck_gpu
from tasks.common import MigrationContext, run_phase


def deploy_secrets(settings: Settings) -> dict[str, str]:
    """Secrets travel as environment variables only; they are never logged or stored."""
    secrets = {}
    if settings.vllm.hf_token is not None:
        secrets["HF_TOKEN"] = settings.vllm.hf_token.get_secret_value()
    if settings.vllm.api_key is not None:
        secrets["VLLM_API_KEY"] = settings.vllm.api_key.get_secret_value()
    return secrets


@task(name="deploy", task_run_name="deploy-{ctx.migration_id}", cache_policy=NO_CACHE, timeout_seconds=7200)
def deploy_phase(ctx: MigrationContext, plan: MigrationPlan) -> Deployment:
    """Re-read the GPU (the plan's reading may be old), then start vLLM or keep the one running this plan."""
    checked: list[GPURecheck] = []

    def work() -> Deployment:
        spec = plan.launch_spec()
        current = status(spec.name, ctx.settings.vllm.backend, workdir=ctx.settings.workdir)
        running = current.exists and current.state in ("running", "restarting")
        checked.append(recheck_gpu(ctx.settings, plan, vllm_running=running))
        return deploy(
            spec, ctx.settings.vllm.backend, secrets=deploy_secrets(ctx.settings), workdir=ctx.settings.workdir
        )

    def figures(result: Deployment) -> dict[str, str]:
        return _figures(result) | (checked[0].figures() if checked else {})

    return run_phase(ctx, "deploy", work, Deployment, figures=figures, upstream=(plan,))


def _figures(result: Deployment) -> dict[str, str]:
    figures = {
        "url": result.url,
        "backend": result.backend,
        "health wait": f"{result.health_wait_s:.1f} s",
        "container": "reused" if result.reused else ("recreated" if result.recreated else "created"),
    }
    if result.vram_gib is not None:
        figures["VRAM in use"] = f"{result.vram_gib:.1f} GiB"
    return figures
