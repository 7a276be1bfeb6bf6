"""Ollama's container, as the decommission and the rollback to Ollama see it.

Stopping (never removing) the container keeps everything a rollback needs: the container's own configuration
(command, environment, ports, GPU request), its image and the volume with the models. Starting it again is
then one ``docker start``: no pull, no model download.
"""

from __future__ import annotations

import time
from typing import Any

from o2v.decommission.models import KeptResources
from o2v.errors import DeployError
from o2v.store_schema import utcnow


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

    def require(self) -> Any:
        container = self.find()
        if container is None:
            raise DeployError(
                f"expected Ollama's Docker container {self.name!r}, found none. What to do: set "
                "ollama.container_name to the container that runs Ollama (docker ps -a)."
            )
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
