"""vLLM as a Docker container, created with the docker SDK from a LaunchSpec.

The container carries Docker Compose's labels (project, service, config-hash = the spec's fingerprint), so
``docker compose -p <project> ps`` lists it next to Ollama, and a re-run can tell "same plan, keep it" from
"new plan, recreate it" by reading one label instead of comparing container configurations field by field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from o2v.deploy.base import Progress, bind_address, kept_log_path
from o2v.deploy.errors_docker import explain_api_error, health_hint
from o2v.deploy.health import LOG_TAIL_LINES, wait_for_health
from o2v.deploy.results import BackendName, Deployment, DeploymentStatus, TeardownResult
from o2v.deploy.spec import SIMULATOR_LABEL, LaunchSpec
from o2v.deploy.vram import read_vram
from o2v.errors import DeployError

MANAGED_LABEL = "o2v.managed"
FINGERPRINT_LABEL = "o2v.fingerprint"
URL_LABEL = "o2v.url"
NS = 1_000_000_000


def compose_labels(spec: LaunchSpec) -> dict[str, str]:
    fingerprint = spec.fingerprint()
    return {
        **spec.labels,
        "com.docker.compose.project": spec.compose_project,
        "com.docker.compose.service": spec.compose_service,
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.container-number": "1",
        "com.docker.compose.config-hash": fingerprint,
        MANAGED_LABEL: "true",
        FINGERPRINT_LABEL: fingerprint,
        URL_LABEL: spec.url,
    }


def healthcheck(spec: LaunchSpec) -> dict[str, Any]:
    """An in-container check with python3 (present in vLLM images and in the simulator image)."""
    probe = (
        "import sys,urllib.request;"
        f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{spec.container_port}{spec.health_path}',"
        "timeout=5).status==200 else 1)"
    )
    interval_s = 10 if spec.health_start_period_s >= 60 else 2
    return {
        "test": ["CMD", "python3", "-c", probe],
        "interval": interval_s * NS,
        "timeout": 5 * NS,
        "retries": 3,
        "start_period": max(1, int(spec.health_start_period_s * NS)),
    }


def create_kwargs(spec: LaunchSpec, env: dict[str, str]) -> dict[str, Any]:
    """Everything ``containers.create`` needs; pure, so the mapping is unit-tested without Docker."""
    from docker.types import DeviceRequest

    kwargs: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.command) or None,
        "name": spec.name,
        "detach": True,
        "ports": {f"{spec.container_port}/tcp": (bind_address(spec.host), spec.port)},
        "environment": env,
        "labels": compose_labels(spec),
        "healthcheck": healthcheck(spec),
        "volumes": {host: {"bind": inside, "mode": "rw"} for host, inside in spec.volumes.items()},
        "restart_policy": {"Name": spec.restart_policy},
    }
    if spec.gpu_device_ids is not None:
        kwargs["device_requests"] = [
            DeviceRequest(driver="nvidia", device_ids=list(spec.gpu_device_ids), capabilities=[["gpu"]])
        ]
    if spec.ipc_host:
        kwargs["ipc_mode"] = "host"  # the host's /dev/shm: shm_size does not apply
    elif spec.shm_size:
        kwargs["shm_size"] = spec.shm_size
    return kwargs


class DockerBackend:
    name: BackendName = "docker"

    def __init__(self, client: Any | None = None, *, stop_timeout_s: int = 30) -> None:
        self._client = client
        self.stop_timeout_s = stop_timeout_s

    @property
    def client(self) -> Any:
        if self._client is None:
            import docker
            from docker.errors import DockerException

            try:
                client = docker.from_env()
                client.ping()
            except DockerException as exc:
                raise DeployError(
                    f"cannot reach the Docker engine: {exc}. What to do: start dockerd, check DOCKER_HOST, "
                    "or use the 'process' backend (vllm.backend: process)."
                ) from exc
            self._client = client
        return self._client

    def _find(self, name: str) -> Any | None:
        from docker.errors import NotFound

        try:
            return self.client.containers.get(name)
        except NotFound:
            return None

    @staticmethod
    def _check_managed(container: Any, name: str) -> None:
        if container.labels.get(MANAGED_LABEL) != "true":
            raise DeployError(
                f"a container named {name!r} exists but was not created by o2v (no {MANAGED_LABEL} label); "
                "o2v will not replace it. What to do: rename or remove it, or set vllm.container_name to "
                "another name."
            )

    def deploy(self, spec: LaunchSpec, env: dict[str, str], progress: Progress) -> Deployment:
        from docker.errors import APIError

        fingerprint = spec.fingerprint()
        reused = recreated = restarted = False
        container = self._find(spec.name)
        if container is not None:
            self._check_managed(container, spec.name)
            old = container.labels.get(FINGERPRINT_LABEL)
            if old != fingerprint:
                progress(f"{spec.name}: plan changed (fingerprint {old} -> {fingerprint}); recreating it")
                container.remove(force=True)
                container, recreated = None, True
            elif container.status in {"running", "restarting"}:
                progress(f"{spec.name}: already running with fingerprint {fingerprint}; keeping it")
                reused = True
            elif container.status == "paused":
                container.unpause()
                reused = True
            elif container.status in {"dead", "removing"}:
                container.remove(force=True)
                container = None
            else:
                progress(f"{spec.name}: found {container.status} with the same plan; starting it again")
                try:
                    container.start()
                except APIError as exc:
                    raise explain_api_error(exc, spec) from exc
                restarted = True
        if container is None:
            container = self._create(spec, env, progress)
        container.reload()
        restarts_before = int(container.attrs.get("RestartCount", 0))
        waited_s = self._wait(spec, container, restarts_before, progress)
        reading = read_vram(spec.gpu_device_ids) if spec.gpu_device_ids else None
        return Deployment(
            name=spec.name,
            backend="docker",
            url=spec.url,
            container_id=container.id,
            fingerprint=fingerprint,
            reused=reused,
            recreated=recreated,
            restarted=restarted,
            health_wait_s=round(waited_s, 3),
            vram_gib=reading.used_gib if reading else None,
            vram_total_gib=reading.total_gib if reading else None,
            warnings=reading.warnings() if reading else [],
        )

    def _create(self, spec: LaunchSpec, env: dict[str, str], progress: Progress) -> Any:
        from docker.errors import APIError, ImageNotFound

        try:
            image = self.client.images.get(spec.image)
        except ImageNotFound:
            progress(f"{spec.name}: image {spec.image} is not on this host; pulling it")
            try:
                image = self.client.images.pull(spec.image)
            except APIError as exc:
                raise DeployError(
                    f"image {spec.image} is not on the Docker host and could not be pulled: "
                    f"{exc.explanation or exc}. What to do: `docker pull {spec.image}` (or build it) "
                    "on that host."
                ) from exc
        kwargs = create_kwargs(spec, env)  # labels carry the plan's fingerprint, so a re-run recognises it
        if (image.labels or {}).get(SIMULATOR_LABEL) == "true" and "device_requests" in kwargs:
            # o2v's own simulator images stand in for vLLM in tests and rehearsals: they need no GPU, and a
            # GPU request fails on hosts without NVIDIA's runtime. Other images get exactly what the plan asks.
            progress(f"{spec.name}: {spec.image} is an o2v simulator image; no GPU requested")
            del kwargs["device_requests"]
        progress(f"{spec.name}: creating container from {spec.image} on port {spec.port}")
        try:
            container = self.client.containers.create(**kwargs)
        except APIError as exc:
            raise explain_api_error(exc, spec) from exc
        try:
            container.start()
        except APIError as exc:
            container.remove(force=True)  # a created-but-unstartable container would only confuse a re-run
            raise explain_api_error(exc, spec) from exc
        return container

    def _wait(self, spec: LaunchSpec, container: Any, restarts_before: int, progress: Progress) -> float:
        def died() -> str | None:
            container.reload()
            state = container.attrs.get("State", {})
            health = (state.get("Health") or {}).get("Status")
            if state.get("Status") in {"exited", "dead"}:
                return f"the container {state.get('Status')} with exit code {state.get('ExitCode')}"
            restarts = int(container.attrs.get("RestartCount", 0)) - restarts_before
            if state.get("Restarting") or restarts > 0:
                return f"the container exited and its restart policy restarted it {max(restarts, 1)} time(s)"
            if health == "unhealthy":
                return "Docker's health check reports the container unhealthy"
            return None

        def log_tail() -> list[str]:
            try:
                raw = container.logs(tail=LOG_TAIL_LINES)
            except Exception as exc:  # noqa: BLE001 - the error message matters more than the logs
                return [f"(logs unavailable: {exc})"]
            return bytes(raw).decode("utf-8", errors="replace").splitlines()

        try:
            return wait_for_health(
                name=spec.name,
                url=spec.url,
                path=spec.health_path,
                timeout_s=spec.health_timeout_s,
                died=died,
                log_tail=log_tail,
                hint=health_hint(spec),
                progress=progress,
            )
        except DeployError:
            # Do not leave a half-started server holding GPU memory next to Ollama; keep it for `docker logs`.
            container.stop(timeout=self.stop_timeout_s)
            raise

    def teardown(self, name: str, keep_logs_dir: Path | None) -> TeardownResult:
        container = self._find(name)
        if container is None:
            return TeardownResult(name=name, backend="docker", found=False)
        self._check_managed(container, name)
        saved: str | None = None
        if keep_logs_dir is not None:
            path = kept_log_path(keep_logs_dir, name)
            path.write_bytes(bytes(container.logs(timestamps=True)))
            saved = str(path)
        was_running = container.status in {"running", "restarting", "paused"}
        if was_running:
            container.stop(timeout=self.stop_timeout_s)
        container.remove(force=True)
        return TeardownResult(
            name=name, backend="docker", found=True, stopped=was_running, removed=True, saved_log_path=saved
        )

    def status(self, name: str) -> DeploymentStatus:
        container = self._find(name)
        if container is None:
            return DeploymentStatus(name=name, backend="docker", exists=False)
        state = container.attrs.get("State", {})
        return DeploymentStatus(
            name=name,
            backend="docker",
            exists=True,
            state=container.status,
            health=(state.get("Health") or {}).get("Status"),
            fingerprint=container.labels.get(FINGERPRINT_LABEL),
            container_id=container.id,
            url=container.labels.get(URL_LABEL),
        )
