"""What every deploy backend offers, and the small pieces they share (secrets, log files)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from o2v.deploy.results import BackendName, Deployment, DeploymentStatus, TeardownResult
from o2v.deploy.spec import LaunchSpec
from o2v.errors import DeployError
from o2v.exposure import bind_address

__all__ = ["Backend", "Progress", "bind_address", "kept_log_path", "last_lines", "resolve_env"]

Progress = Callable[[str], None]


class Backend(Protocol):
    """Runs a LaunchSpec somewhere. Implementations: DockerBackend, ProcessBackend."""

    name: BackendName

    def deploy(self, spec: LaunchSpec, env: dict[str, str], progress: Progress) -> Deployment: ...

    def teardown(self, name: str, keep_logs_dir: Path | None) -> TeardownResult: ...

    def status(self, name: str) -> DeploymentStatus: ...


def resolve_env(spec: LaunchSpec, secrets: Mapping[str, str]) -> dict[str, str]:
    """Plain env plus the secrets the spec names; all missing names reported at once (values never are)."""
    missing = [name for name in spec.secret_env if not secrets.get(name)]
    if missing:
        raise DeployError(
            f"{spec.name} needs secret(s) {', '.join(missing)} in its environment, but none were given. "
            "What to do: set them in migration.yaml (vllm.hf_token / vllm.api_key) "
            "or as O2V__VLLM__* variables."
        )
    env = dict(spec.env)
    env.update({name: secrets[name] for name in spec.secret_env})
    return env


def kept_log_path(keep_logs_dir: Path, name: str) -> Path:
    keep_logs_dir.mkdir(parents=True, exist_ok=True)
    return keep_logs_dir / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.log"


def last_lines(path: Path, count: int = 40) -> list[str]:
    """The end of a log file without reading a multi-gigabyte file whole."""
    if not path.exists():
        return []
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        data = handle.read()
    return data.decode("utf-8", errors="replace").splitlines()[-count:]
