"""Render the plan as Docker Compose files: vLLM alone, Ollama and vLLM side by side, and the eager override.

Rendered from data with yaml.safe_dump (not from text templates), so quoting is always right. Image tags are
pinned; secrets appear only as ``${HF_TOKEN:?...}`` / ``${VLLM_API_KEY:?...}`` so compose fails early with a
message when they are missing, and no secret value is ever written to disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from o2v.plan.types import MigrationPlan, Period

SIDE_BY_SIDE = "docker-compose.side-by-side.yml"
VLLM_ALONE = "docker-compose.vllm.yml"
EAGER = "docker-compose.eager.yml"


def _gpu(ids: list[str]) -> dict[str, Any]:
    return {
        "resources": {"reservations": {"devices": [{"driver": "nvidia", "device_ids": ids, "capabilities": ["gpu"]}]}}
    }


def vllm_service(plan: MigrationPlan, period: Period, *, eager: bool = False) -> dict[str, Any]:
    env: dict[str, str] = {}
    if plan.hf_token_required:
        env["HF_TOKEN"] = f"${{HF_TOKEN:?set HF_TOKEN in .env: {plan.primary.hf_repo} is gated}}"
    if plan.api_key_required:
        env["VLLM_API_KEY"] = "${VLLM_API_KEY:?set VLLM_API_KEY in .env: clients must send it as a bearer token}"
    health = "import urllib.request; urllib.request.urlopen('http://localhost:8000/health', timeout=5)"
    service: dict[str, Any] = {
        "image": plan.image,
        "container_name": plan.container_name,
        "command": plan.vllm_args(period, eager=eager) + ["--host", "0.0.0.0", "--port", "8000"],
        "ports": [f"{plan.port}:8000"],
        "ipc": "host",
        "volumes": [f"{plan.hf_cache_dir}:/root/.cache/huggingface"],
        "deploy": _gpu(plan.gpu_device_ids),
        "healthcheck": {
            "test": ["CMD", "python3", "-c", health],
            "interval": "30s",
            "timeout": "10s",
            "retries": 5,
            "start_period": f"{int(min(plan.health_timeout_s, 1800))}s",
        },
        "restart": "unless-stopped",
        "labels": {"o2v.migration": plan.migration_id, "o2v.period": period},
    }
    if env:
        service["environment"] = env
    return service


def ollama_service(plan: MigrationPlan) -> dict[str, Any]:
    return {
        "image": plan.ollama_image,
        "container_name": "ollama",
        "ports": ["11434:11434"],
        "volumes": ["ollama-models:/root/.ollama"],
        "deploy": _gpu(plan.gpu_device_ids),
        "healthcheck": {"test": ["CMD", "ollama", "list"], "interval": "30s", "timeout": "10s", "retries": 3},
        "restart": "unless-stopped",
    }


def _header(plan: MigrationPlan, what: str, period: Period) -> str:
    flags = plan.side_by_side if period == "side_by_side" else plan.after_decommission
    lines = [
        f"# {what}",
        f"# Rendered by o2v for migration {plan.migration_id!r}; re-run `o2v plan` to change it.",
        f"# {plan.primary.ollama_tag} -> {plan.primary.hf_repo} on {plan.gpu_name} "
        f"({plan.gpu_total_gib:.1f} GiB); sizing for {period}:",
    ]
    lines += [f"#   {step}" for step in flags.sizing.steps]
    return "\n".join(lines) + "\n"


def _dump(path: Path, header: str, data: dict[str, Any]) -> Path:
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=1000), encoding="utf-8")
    return path


def render_compose(plan: MigrationPlan, out_dir: Path) -> list[Path]:
    """Write the three compose files (and .env.example) into ``out_dir``; returns the compose files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sidecar = vllm_service(plan, "side_by_side")
    sidecar["depends_on"] = {"ollama": {"condition": "service_healthy"}}
    side: dict[str, Any] = {
        "services": {"ollama": ollama_service(plan), "vllm": sidecar},
        "volumes": {"ollama-models": {}},
    }
    alone = {"services": {"vllm": vllm_service(plan, "after_decommission")}}
    eager = {"services": {"vllm": {"command": vllm_service(plan, "side_by_side", eager=True)["command"]}}}
    written = [
        _dump(out_dir / SIDE_BY_SIDE, _header(plan, "Ollama and vLLM side by side (migration period)",
                                              "side_by_side"), side),
        _dump(out_dir / VLLM_ALONE, _header(plan, "vLLM alone (after Ollama is decommissioned)",
                                            "after_decommission"), alone),
        _dump(out_dir / EAGER, "# Eager-mode override (no CUDA graphs: less memory, less speed). Apply with:\n"
              f"#   docker compose -f {SIDE_BY_SIDE} -f {EAGER} up -d\n", eager),
    ]  # fmt: skip
    # The cutover period: the gateway on 11434 in front of both (o2v/plan/compose_gateway.py).
    from o2v.plan.compose_gateway import GATEWAY, gateway_compose

    written.append(_dump(out_dir / GATEWAY, _header(plan, "Cutover: the o2v gateway owns 11434, Ollama and vLLM "
                                                    "are internal", "side_by_side"),
                         gateway_compose(plan, ollama_service(plan), sidecar)))  # fmt: skip
    secrets = (["HF_TOKEN=hf_..."] if plan.hf_token_required else []) + (
        ["VLLM_API_KEY=..."] if plan.api_key_required else []
    )
    secrets.append("O2V_GATEWAY_ADMIN_TOKEN=...")
    (out_dir / ".env.example").write_text(
        "# Copy to .env next to the compose files and fill in; never commit .env.\n" + "\n".join(secrets) + "\n",
        encoding="utf-8",
    )
    return written
