"""Typed results of GPU verification."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from o2v.errors import GateFailed

MiB = 1024**2
GiB = 1024**3


class GPUProcess(BaseModel):
    pid: int
    name: str = Field(
        default="", description="Process name as NVML reports it ('' when hidden by a PID namespace)."
    )
    used_memory_mib: float | None = Field(
        default=None, description="None when the driver does not say (e.g. in containers)."
    )
    is_ollama: bool = False


class GPUInfo(BaseModel):
    index: int
    name: str
    uuid: str = ""
    compute_capability: str = Field(..., description="'major.minor', e.g. '8.0'.")
    total_memory_mib: float
    free_memory_mib: float
    used_memory_mib: float
    processes: list[GPUProcess] = Field(default_factory=list)

    @property
    def compute_capability_value(self) -> float:
        major, _, minor = self.compute_capability.partition(".")
        return int(major) + int(minor or 0) / 10

    @property
    def total_gib(self) -> float:
        return self.total_memory_mib * MiB / GiB

    @property
    def free_gib(self) -> float:
        return self.free_memory_mib * MiB / GiB

    @property
    def ollama_memory_mib(self) -> float:
        return sum(p.used_memory_mib or 0.0 for p in self.processes if p.is_ollama)


class DeviceSnapshot(BaseModel):
    """What NVML saw (or a recording of it). ``error`` set = no usable driver or no GPU."""

    source: str = Field(..., description="'nvml' or the path of the recorded description.")
    driver_version: str | None = None
    cuda_driver_version: str | None = Field(
        default=None, description="Highest CUDA version the driver supports, e.g. '12.4'."
    )
    gpus: list[GPUInfo] = Field(default_factory=list)
    error: str | None = None


class DockerRuntimes(BaseModel):
    engine_reachable: bool
    runtimes: list[str] = Field(default_factory=list)
    default_runtime: str | None = None
    error: str | None = None
    simulator_image: bool = Field(
        False, description="The vLLM image is one of o2v's simulator images, which need no GPU runtime."
    )

    @property
    def nvidia(self) -> bool:
        return "nvidia" in self.runtimes or self.default_runtime == "nvidia"


class GPUReport(BaseModel):
    """Verdict over every GPU vLLM may use; ``violations`` lists every failed requirement at once."""

    verdict: Literal["pass", "fail", "no-gpu"]
    snapshot: DeviceSnapshot
    selected_indices: list[int]
    docker: DockerRuntimes | None = None
    min_compute_capability: float
    required_vram_gib: float | None = None
    ollama_vram_gib: float = Field(
        default=0.0, description="Memory Ollama's processes hold on the selected GPUs."
    )
    available_for_vllm_gib: float | None = Field(
        default=None, description="Free memory on the tightest selected GPU."
    )
    violations: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def selected(self) -> list[GPUInfo]:
        return [g for g in self.snapshot.gpus if g.index in self.selected_indices]

    def raise_for_violations(self) -> None:
        """Stop the migration with every reason when the GPU does not meet the requirements."""
        if self.violations:
            raise GateFailed("GPU verification", self.violations)
