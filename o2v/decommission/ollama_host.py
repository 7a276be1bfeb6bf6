"""Where Ollama runs, as the decommission and the rollback to Ollama see it (``ollama.host``).

:class:`OllamaHost` is what both need: is it there, is it running, what a stop keeps, stop, check that the kept
resources still exist, start again. Three hosts implement it: Ollama's Docker container (here), a systemd unit
and the operator's own start/stop commands (``o2v.decommission.ollama_services``).

For Docker, stopping (never removing) the container keeps everything a rollback needs: the container's own
configuration (command, environment, ports, GPU request), its image and the volume with the models. Starting it
again is then one ``docker start``: no pull, no model download.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from o2v.decommission.models import KeptResources
from o2v.errors import DeployError
from o2v.store_schema import utcnow

if TYPE_CHECKING:
    from o2v.config import Settings


class OllamaHost(Protocol):
    """What the decommission's precheck, stop and the rollback to Ollama ask of where Ollama runs."""

    name: str  # what is stopped and started: the container, the unit, or "command"

    def find(self) -> Any | None:
        """A handle on Ollama's service when it exists (running or not), else None."""

    def not_found_reason(self) -> str:
        """Why find() found nothing, and what to do."""

    def require(self) -> Any:
        """find(), or a DeployError with not_found_reason()."""

    def running(self) -> bool: ...

    def kept(self, handle: Any) -> KeptResources:
        """What a stop keeps (the way back), read from the service itself."""

    def stop(self, timeout_s: int = 30) -> KeptResources:
        """Stop Ollama, keeping its resources; raises DeployError (nothing stopped) when it cannot."""

    def check_kept(self, kept: KeptResources | None) -> Any:
        """The handle when every kept resource still exists, else a DeployError naming what is gone."""

    def start(self, kept: KeptResources | None) -> float:
        """Start Ollama again from what was kept; returns the seconds the start request took."""

    def published_url(self) -> str | None:
        """Where Ollama answers when the host knows better than ollama.url, else None."""


def ollama_host(settings: Settings) -> OllamaHost:
    """The host ``ollama.host`` names (docker, the default, keeps the behaviour from before the choice existed)."""
    from o2v.decommission.ollama_services import CommandOllama, SystemdOllama

    o = settings.ollama
    if o.host == "systemd":
        return SystemdOllama(o.systemd_unit, systemctl=o.systemctl_command, models_dir=o.models_dir,
                             timeout_s=o.command_timeout_s)  # fmt: skip
    if o.host == "command":
        return CommandOllama(o.start_command, o.stop_command, url=o.url, models_dir=o.models_dir,
                             timeout_s=o.command_timeout_s)  # fmt: skip
    return DockerOllama(o.container_name)


class DockerOllama:
    """Ollama in a Docker container named ``name`` (``ollama.container_name``)."""

    def __init__(self, name: str, client: Any | None = None) -> None:
        self.name = name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import docker
            from docker.errors import DockerException

            try:
                self._client = docker.from_env()
                self._client.ping()
            except DockerException as exc:
                raise DeployError(f"cannot reach the Docker engine to find Ollama's container: {exc}") from exc
        return self._client

    def find(self) -> Any | None:
        from docker.errors import NotFound

        try:
            return self.client.containers.get(self.name)
        except NotFound:
            return None

    def not_found_reason(self) -> str:
        return (
            f"Ollama's container {self.name!r} was not found. What to do: set ollama.container_name to the "
            "container that runs Ollama (docker ps -a), or ollama.host to systemd or command if it is not in Docker."
        )

    def require(self) -> Any:
        container = self.find()
        if container is None:
            raise DeployError(self.not_found_reason())
        return container

    def running(self) -> bool:
        container = self.find()
        return container is not None and container.status == "running"

    def kept(self, container: Any) -> KeptResources:
        """What the rollback path consists of, read from the container itself."""
        mounts = container.attrs.get("Mounts") or []
        image = container.image
        tags = getattr(image, "tags", None) or []
        return KeptResources(
            host="docker",
            container=self.name,
            container_id=container.id,
            image=tags[0] if tags else container.attrs.get("Config", {}).get("Image", image.id),
            image_id=image.id,
            volumes=sorted(f"{m['Name']}:{m['Destination']}" for m in mounts if m.get("Type") == "volume"),
            binds=sorted(f"{m['Source']}:{m['Destination']}" for m in mounts if m.get("Type") == "bind"),
        )

    def stop(self, timeout_s: int = 30) -> KeptResources:
        container = self.require()
        kept = self.kept(container)
        if container.status == "running":
            container.stop(timeout=timeout_s)
        kept.stopped_at = utcnow()
        return kept

    def check_kept(self, kept: KeptResources | None) -> Any:
        """The stopped container, its image and volumes, or a DeployError naming what is gone."""
        from docker.errors import ImageNotFound, NotFound

        container = self.find()
        missing = []
        if container is None:
            missing.append(f"container {self.name!r}")
        if kept is not None:
            try:
                self.client.images.get(kept.image_id)
            except ImageNotFound:
                missing.append(f"image {kept.image} ({kept.image_id[:19]})")
            for volume in kept.volumes:
                try:
                    self.client.volumes.get(volume.split(":", 1)[0])
                except NotFound:
                    missing.append(f"volume {volume.split(':', 1)[0]}")
        if missing:
            raise DeployError(
                "cannot roll back to Ollama: the kept resources are gone (" + ", ".join(missing) + "). What to do: "
                "re-create Ollama from the commented-out service in the final compose file (docker compose up -d "
                "ollama after uncommenting it), pull its models again, then run o2v rollback --to-ollama."
            )
        return container

    def start(self, kept: KeptResources | None) -> float:
        """Start the kept container; returns the seconds the start request took."""
        container = self.check_kept(kept)
        began = time.perf_counter()
        if container.status != "running":
            container.start()
        return time.perf_counter() - began

    def published_url(self) -> str | None:
        """http://127.0.0.1:<host port> of Ollama's 11434, when published."""
        container = self.require()
        container.reload()
        ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for binding in ports.get("11434/tcp") or []:
            host = binding.get("HostIp") or "127.0.0.1"
            host = "127.0.0.1" if host in ("0.0.0.0", "") else host
            return f"http://{host}:{binding['HostPort']}"
        return None
