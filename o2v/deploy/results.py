"""Typed results of the deploy library, read by the deploy/validate/rollback phases and shown in artifacts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

BackendName = Literal["docker", "process"]


class Deployment(BaseModel):
    """A server that answered its health check. ``reused``/``recreated`` tell a re-run what it found."""

    name: str
    backend: BackendName
    url: str = Field(..., description="Base URL clients use (no /v1).")
    container_id: str | None = Field(default=None, description="Docker container id (docker backend).")
    pid: int | None = Field(
        default=None, description="Process id, also the process group id (process backend)."
    )
    fingerprint: str = Field(..., description="LaunchSpec.fingerprint() of what is running.")
    reused: bool = Field(
        default=False, description="An already running server with the same fingerprint was kept."
    )
    recreated: bool = Field(default=False, description="A server with a different fingerprint was replaced.")
    restarted: bool = Field(
        default=False, description="A stopped server with the same fingerprint was started again."
    )
    health_wait_s: float = Field(..., ge=0, description="Seconds spent waiting for the health endpoint.")
    vram_gib: float | None = Field(
        default=None,
        description="GPU memory used on the spec's devices after start (all processes), GiB; None = no GPU.",
    )
    vram_total_gib: float | None = Field(default=None, description="Total memory of those devices, GiB.")
    log_path: str | None = Field(
        default=None, description="Log file of the process backend; None for containers."
    )
    warnings: list[str] = Field(default_factory=list, description="Things that did not stop the deploy.")


class TeardownResult(BaseModel):
    """What teardown found and did; tearing down something absent is not an error (rollback re-runs)."""

    name: str
    backend: BackendName
    found: bool
    stopped: bool = False
    removed: bool = False
    saved_log_path: str | None = Field(default=None, description="Where the server's logs were kept.")


class DeploymentStatus(BaseModel):
    """A read-only look at a deployment, for the CLI and for phases deciding whether to act."""

    name: str
    backend: BackendName
    exists: bool
    state: str | None = Field(
        default=None, description="running, exited, created, ... (docker) or running/dead (process)."
    )
    health: str | None = Field(
        default=None, description="Docker health status (healthy/unhealthy/starting) when known."
    )
    fingerprint: str | None = None
    container_id: str | None = None
    pid: int | None = None
    url: str | None = None
