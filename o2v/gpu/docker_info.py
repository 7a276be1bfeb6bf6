"""Is a Docker engine there, and does it know NVIDIA's runtime? Absence is a fact to report, not a crash."""

from __future__ import annotations

from typing import Any

from o2v.gpu.models import DockerRuntimes


def docker_runtimes(client: Any | None = None, image: str | None = None) -> DockerRuntimes:
    """Ask the engine (``docker info``) for its runtimes; an unreachable engine is reported with the reason.

    When ``image`` is given and is one of o2v's simulator images (tests, rehearsals), it is flagged: the deploy
    sends it no GPU request, so NVIDIA's runtime is not needed for it.
    """
    try:
        if client is None:
            import docker

            client = docker.from_env(timeout=5)
        info = client.info()
    except Exception as exc:  # noqa: BLE001 - docker raises many unrelated types; all mean "no engine"
        return DockerRuntimes(engine_reachable=False, error=f"no Docker engine reachable: {exc}")
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    return DockerRuntimes(
        engine_reachable=True, runtimes=runtimes, default_runtime=info.get("DefaultRuntime"),
        simulator_image=image is not None and _is_simulator(client, image),
    )


def _is_simulator(client: Any, image: str) -> bool:
    from o2v.deploy.spec import SIMULATOR_LABEL

    try:
        labels = client.images.get(image).labels or {}
    except Exception:  # noqa: BLE001 - an image that is not here yet is simply not a local simulator image
        return False
    return labels.get(SIMULATOR_LABEL) == "true"
