"""Deploying vLLM beside Ollama: Docker containers or local processes, from one LaunchSpec.

    deploy(spec, "docker"|"process", secrets=...)  -> Deployment      idempotent; waits for health
    teardown(name, backend, keep_logs_dir=...)     -> TeardownResult  keeps the logs, absent is fine
    status(name, backend)                          -> DeploymentStatus

The backend is chosen by name (``vllm.backend`` in migration.yaml) or passed as an object, so tests and
callers with their own Docker client or working directory use the same three functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from o2v.deploy.base import Backend, resolve_env
from o2v.deploy.docker_backend import DockerBackend
from o2v.deploy.process_backend import ProcessBackend
from o2v.deploy.results import Deployment, DeploymentStatus, TeardownResult
from o2v.deploy.spec import LaunchSpec
from o2v.errors import DeployError
from o2v.secret_hash import secret_digests

BACKENDS: dict[str, Callable[[Path], Backend]] = {
    "docker": lambda workdir: DockerBackend(),
    "process": lambda workdir: ProcessBackend(workdir),
}

__all__ = [
    "BACKENDS",
    "Backend",
    "Deployment",
    "DeploymentStatus",
    "DockerBackend",
    "LaunchSpec",
    "ProcessBackend",
    "TeardownResult",
    "deploy",
    "get_backend",
    "status",
    "teardown",
    "with_secret_digests",
]


def get_backend(backend: str | Backend, workdir: Path = Path(".o2v")) -> Backend:
    if not isinstance(backend, str):
        return backend
    try:
        factory = BACKENDS[backend]
    except KeyError:
        raise DeployError(f"unknown deploy backend {backend!r}; expected one of {sorted(BACKENDS)}") from None
    return factory(workdir)


def deploy(
    spec: LaunchSpec,
    backend: str | Backend,
    *,
    secrets: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    workdir: str | Path = Path(".o2v"),
) -> Deployment:
    """Start ``spec`` (or keep it when already running with the same fingerprint) and wait until healthy.

    Raises DeployError with the server's last log lines when it never becomes healthy; the failed server is
    stopped (not removed) so that it does not hold GPU memory next to Ollama.
    """
    env = resolve_env(spec, secrets or {})
    spec = with_secret_digests(spec, env, workdir)
    return get_backend(backend, Path(workdir)).deploy(spec, env, progress or (lambda message: None))


def with_secret_digests(spec: LaunchSpec, env: Mapping[str, str], workdir: str | Path = Path(".o2v")) -> LaunchSpec:
    """The spec as deployed: its fingerprint sees each secret through a keyed hash (never the value), so a rotated
    HF token or API key recreates the server."""
    digests = secret_digests(workdir, {name: env[name] for name in spec.secret_env})
    if not digests:
        return spec
    return spec.model_copy(update={"secret_digests": {**spec.secret_digests, **digests}})


def teardown(
    name: str,
    backend: str | Backend,
    *,
    keep_logs_dir: str | Path | None = None,
    workdir: str | Path = Path(".o2v"),
) -> TeardownResult:
    """Stop and remove the server, saving its logs to ``keep_logs_dir`` first; absent is not an error."""
    keep = Path(keep_logs_dir) if keep_logs_dir is not None else None
    return get_backend(backend, Path(workdir)).teardown(name, keep)


def status(name: str, backend: str | Backend, *, workdir: str | Path = Path(".o2v")) -> DeploymentStatus:
    return get_backend(backend, Path(workdir)).status(name)
