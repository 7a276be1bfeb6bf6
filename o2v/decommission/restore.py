"""Rollback after a decommission: Ollama from what was kept (its container and volume, its systemd unit, or the
operator's start command with the models directory), healthy, every client back on it.

Order matters: Ollama must answer before the routing table sends anyone to it, or the first requests would
fail. The kept resources are checked first and a missing one is named (the container, its image, a volume).
"""

from __future__ import annotations

import time

from o2v.config import Settings
from o2v.decommission.models import DecommissionResult, KeptResources, RestoreResult
from o2v.decommission.ollama_host import OllamaHost, ollama_host
from o2v.deploy.health import probe_health
from o2v.errors import DeployError
from o2v.store import Store

RESULT_STATE = "decommission.result:{}"


def kept_resources(store: Store, migration_id: str) -> KeptResources | None:
    raw = store.get_state(RESULT_STATE.format(migration_id))
    if not raw:
        return None
    return DecommissionResult.model_validate(raw).kept


def wait_healthy(url: str, timeout_s: float) -> float:
    began = time.monotonic()
    reason = "not asked yet"
    while time.monotonic() - began < timeout_s:
        healthy, reason = probe_health(url, "/api/version")
        if healthy:
            return time.monotonic() - began
        time.sleep(0.2)
    raise DeployError(f"Ollama did not answer {url}/api/version within {timeout_s:.0f} s after its start ({reason})")


def restore_ollama(
    settings: Settings, store: Store, *, reason: str, actor: str, ollama: OllamaHost | None = None
) -> RestoreResult:
    began = time.perf_counter()
    ollama = ollama or ollama_host(settings)
    kept = kept_resources(store, settings.migration_id)
    ollama.start(kept)  # raises DeployError naming what is gone
    url = (settings.gateway.ollama_url or ollama.published_url() or settings.ollama.url).rstrip("/")
    healthy_s = wait_healthy(url, settings.decommission.ollama_health_timeout_s)
    table = store.reset_routes(actor=actor, reason=f"rollback to Ollama: {reason}")
    store.audit(actor, "rollback-to-ollama", settings.migration_id,
                {"reason": reason, "container": ollama.name, "routing_version": table.version})  # fmt: skip
    return RestoreResult(
        migration_id=settings.migration_id, container=ollama.name, healthy_after_s=healthy_s,
        routing_version=table.version, total_s=time.perf_counter() - began,
    )  # fmt: skip
