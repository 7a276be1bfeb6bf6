"""The cutover compose file: the gateway owns Ollama's published port (11434); Ollama and vLLM are internal.

Clients keep calling ``host:11434`` and change nothing; the gateway reaches the two servers by their compose
service names. The admin API (routing changes, /metrics) is published on the host's loopback only. Secrets
appear only as ``${VAR:?...}`` so compose refuses to start without them and nothing secret is written.
"""

from __future__ import annotations

import json
from typing import Any

import o2v
from o2v.plan.types import MigrationPlan

GATEWAY = "docker-compose.gateway.yml"
GATEWAY_IMAGE = f"o2v-gateway:{o2v.__version__}"
ADMIN_PORT = 11436


def gateway_service(plan: MigrationPlan) -> dict[str, Any]:
    env = {
        "O2V__MIGRATION_ID": plan.migration_id,
        "O2V__STORE__URL": "${O2V_STORE_URL:-sqlite:////data/o2v.db}",
        "O2V__GATEWAY__ADMIN_LISTEN": f"0.0.0.0:{ADMIN_PORT}",
        "O2V__GATEWAY__ADMIN_TOKEN": "${O2V_GATEWAY_ADMIN_TOKEN:?set O2V_GATEWAY_ADMIN_TOKEN in .env: routing "
        "changes need it}",
    }
    if plan.api_key_required:
        env["O2V__VLLM__API_KEY"] = "${VLLM_API_KEY:?set VLLM_API_KEY in .env: the gateway sends it to vLLM}"
    tag, served = plan.primary.ollama_tag, plan.served_model_names[0]
    if served != tag and plan.primary.hf_repo:
        env["O2V__MODELS"] = json.dumps({tag: {"hf_repo": plan.primary.hf_repo, "served_name": served}})
    health = "import urllib.request; urllib.request.urlopen('http://localhost:11434/o2v/health', timeout=5)"
    return {
        "image": GATEWAY_IMAGE,
        "container_name": "o2v-gateway",
        "command": ["gateway", "--listen", "0.0.0.0:11434", "--ollama", "http://ollama:11434",
                    "--vllm", "http://vllm:8000"],
        "ports": ["11434:11434", f"127.0.0.1:{ADMIN_PORT}:{ADMIN_PORT}"],
        "environment": env,
        "volumes": ["o2v-data:/data"],
        # Ollama must answer before clients arrive; vLLM may still be loading (its clients stay on Ollama).
        "depends_on": {"ollama": {"condition": "service_healthy"}, "vllm": {"condition": "service_started"}},
        "healthcheck": {"test": ["CMD", "python3", "-c", health], "interval": "10s", "timeout": "5s", "retries": 3},
        "restart": "unless-stopped",
        "labels": {"o2v.migration": plan.migration_id, "o2v.role": "gateway"},
    }  # fmt: skip


def internal(service: dict[str, Any], port: int) -> dict[str, Any]:
    """The service without published ports: reachable by name inside the compose network only."""
    service = {k: v for k, v in service.items() if k != "ports"}
    service["expose"] = [str(port)]
    return service


def gateway_compose(plan: MigrationPlan, ollama: dict[str, Any], vllm: dict[str, Any]) -> dict[str, Any]:
    return {
        "services": {"gateway": gateway_service(plan), "ollama": internal(ollama, 11434), "vllm": internal(vllm, 8000)},
        "volumes": {"ollama-models": {}, "o2v-data": {}},
    }
