"""Is a Docker engine there, and does it know NVIDIA's runtime? Absence is a fact to report, not a crash."""

from __future__ import annotations

from typing import Any

from o2v.gpu.models import DockerRuntimes


def docker_runtimes(client: Any | None = None) -> DockerRuntimes:
    """Ask the engine (``docker info``) for its runtimes; an unreachable engine is reported with "
    "the reason."""
    try:
        if client is None:
            import docker

            client = docker.from_env(timeout=5)
        info = client.info()
    except Exception as exc:  # noqa: BLE001 - docker raises many unrelated types; all mean "no engine"
        return DockerRuntimes(engine_reachable=False, error=f"no Docker engine reachable: {exc}")
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    return DockerRuntimes(
        engine_reachable=True, runtimes=runtimes, default_runtime=info.get("DefaultRuntime")
    )
