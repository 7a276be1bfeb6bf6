"""What to launch: the contract between the plan (which decides) and the deploy backends (which do)."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, Field

# How long o2v waits and what it expects to measure do not change the server: no reason to recreate it.
NOT_IN_FINGERPRINT = {"health_timeout_s", "expected_vram_gib"}


SIMULATOR_LABEL = "io.o2v.simulator"
"""Image label of o2v's own simulator images: they stand in for vLLM and need no GPU."""


class LaunchSpec(BaseModel):
    """One vLLM server, described independently of how it is run (container or process)."""

    name: str = Field(..., description="Container / process name, e.g. o2v-vllm.")
    image: str = Field(..., description="Container image with a pinned tag (ignored by the process backend).")
    command: list[str] = Field(
        default_factory=list,
        description="Arguments after the image's entrypoint (docker) or the whole command line (process).",
    )
    host: str = "127.0.0.1"
    port: int = Field(..., description="Port clients reach on the host.")
    container_port: int = Field(8000, description="Port the server listens on inside the container.")
    env: dict[str, str] = Field(default_factory=dict, description="Plain environment variables.")
    secret_env: list[str] = Field(
        default_factory=list,
        description="Env variable names resolved from secrets at deploy time (HF_TOKEN, VLLM_API_KEY).",
    )
    gpu_device_ids: list[str] | None = Field(
        default_factory=lambda: ["0"],
        description="GPUs to request; None = no GPU request (simulator images).",
    )
    volumes: dict[str, str] = Field(default_factory=dict, description="host path -> container path.")
    shm_size: str | None = "16g"
    ipc_host: bool = True
    health_path: str = "/health"
    health_start_period_s: float = 600.0
    health_timeout_s: float = 900.0
    restart_policy: str = "unless-stopped"
    compose_project: str = "o2v"
    compose_service: str = "vllm"
    served_model_names: list[str] = Field(default_factory=list)
    api_key_env: str | None = Field(
        None, description="Env var holding the API key clients must send, if any."
    )
    expected_vram_gib: float | None = Field(None, description="VRAM the plan expects this server to take.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra container labels (docker backend), e.g. to find test containers.",
    )
    secret_digests: dict[str, str] = Field(
        default_factory=dict,
        description="Keyed hash (HMAC, o2v.secret_hash) of each secret_env value, set at deploy time: a rotated "
        "token changes the fingerprint and so recreates the server. Never the values themselves.",
    )

    def fingerprint(self) -> str:
        """Changes whenever anything that matters for the running server changes: a new plan recreates it."""
        data = self.model_dump(mode="json", exclude=NOT_IN_FINGERPRINT)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
