"""Docker's error texts turned into messages that say what happened and what to do."""

from __future__ import annotations

from typing import Any

from o2v.deploy.base import bind_address
from o2v.deploy.spec import LaunchSpec
from o2v.errors import DeployError

PORT_CONFLICT_MARKERS = ("port is already allocated", "address already in use")
NO_NVIDIA_MARKERS = (
    'could not select device driver "nvidia"',
    'could not select device driver \\"nvidia\\"',
    "nvidia-container-cli",
    "unknown or invalid runtime name: nvidia",
)


def docker_said(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc).strip()


def explain_api_error(exc: Any, spec: LaunchSpec) -> DeployError:
    said = docker_said(exc)
    lowered = said.lower()
    if any(marker in lowered for marker in PORT_CONFLICT_MARKERS):
        return DeployError(
            f"port {spec.port} on {bind_address(spec.host)} is already in use, so {spec.name} cannot publish "
            f"it (Docker said: {said}). What to do: stop whatever listens there "
            f"(`ss -ltnp 'sport = :{spec.port}'`, "
            f"`docker ps --filter publish={spec.port}`) or set vllm.port to a free port and re-run."
        )
    if any(marker.lower() in lowered for marker in NO_NVIDIA_MARKERS):
        devices = ",".join(spec.gpu_device_ids or [])
        return DeployError(
            f"the Docker engine has no NVIDIA runtime, so GPU(s) {devices} cannot be given to {spec.name} "
            f"(Docker said: {said}). What to do: install the NVIDIA driver and nvidia-container-toolkit "
            "on the Docker host, run `sudo nvidia-ctk runtime configure --runtime=docker` and "
            "`sudo systemctl restart docker`, "
            "and check with `docker run --rm --gpus all ubuntu nvidia-smi`."
        )
    if "conflict" in lowered and "name" in lowered:
        return DeployError(
            f"another container took the name {spec.name!r} while o2v was creating it (Docker said: {said}). "
            "What to do: re-run the deploy; it will find and check that container."
        )
    return DeployError(f"Docker could not create or start {spec.name} from {spec.image}: {said}")


def health_hint(spec: LaunchSpec) -> str:
    return (
        f"read the whole log with `docker logs {spec.name}`; if the model was still loading, raise "
        f"vllm.health_timeout_s (now {spec.health_timeout_s:g} s); fix the cause and re-run the deploy, "
        "which restarts or recreates the container"
    )
