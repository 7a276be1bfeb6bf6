"""The plan's typed result: model mappings, the sized vLLM flags for both periods, and the launch spec."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from o2v.deploy.spec import LaunchSpec
from o2v.plan.catalog import ArchFacts
from o2v.plan.sizing import SizingResult

Period = Literal["side_by_side", "after_decommission"]


class ModelPlan(BaseModel):
    """How one Ollama tag maps onto vLLM, or why it does not."""

    ollama_tag: str
    source: Literal["config", "catalog", "unknown", "embedding"]
    hf_repo: str | None = None
    quantization: str | None = None
    gated: bool = False
    architecture: str | None = None
    supported: bool | None = Field(default=None, description="Architecture in vLLM's registry (None = unknown).")
    candidates: list[str] = Field(default_factory=list, description="Repositories to check for unknown tags.")
    note: str = ""


class PeriodFlags(BaseModel):
    """The three flags the plan chooses for one period, with the sizing that justifies them."""

    period: Period
    gpu_memory_utilization: float
    max_model_len: int
    max_num_seqs: int
    sizing: SizingResult
    reasoning: list[str] = Field(default_factory=list)


class MigrationPlan(BaseModel):
    migration_id: str
    image: str
    ollama_image: str
    backend: Literal["docker", "process"]
    container_name: str
    host: str
    port: int
    hf_cache_dir: str
    shm_size: str
    command_prefix: list[str] = Field(default_factory=lambda: ["vllm", "serve"])
    gpu_device_ids: list[str]
    gpu_name: str
    gpu_total_gib: float
    gpu_cuda_total_gib: float = Field(..., description="Total memory as CUDA reports it (NVML total minus reserve).")
    gpu_free_gib: float
    ollama_vram_gib: float
    models: list[ModelPlan]
    primary: ModelPlan
    arch: ArchFacts
    served_model_names: list[str]
    tensor_parallel_size: int
    dtype: str
    kv_cache_dtype: str
    enforce_eager: bool
    extra_args: list[str] = Field(default_factory=list)
    api_key_required: bool = False
    health_timeout_s: float = 900.0
    target_concurrency: int
    side_by_side: PeriodFlags
    after_decommission: PeriodFlags
    notes: list[str] = Field(default_factory=list)
    ollama_host: str = Field("127.0.0.1", description="Host of ollama.url: the compose file publishes Ollama there.")

    @property
    def hf_token_required(self) -> bool:
        return self.primary.gated

    def vllm_args(self, period: Period = "side_by_side", *, eager: bool = False) -> list[str]:
        """``vllm serve`` arguments (after the model) for one period."""
        flags = self.side_by_side if period == "side_by_side" else self.after_decommission
        assert self.primary.hf_repo is not None
        args = ["--model", self.primary.hf_repo]
        for name in self.served_model_names:
            args += ["--served-model-name", name]
        args += [
            "--max-model-len", str(flags.max_model_len),
            "--gpu-memory-utilization", f"{flags.gpu_memory_utilization:.2f}",
            "--max-num-seqs", str(flags.max_num_seqs),
            "--tensor-parallel-size", str(self.tensor_parallel_size),
        ]  # fmt: skip
        if self.primary.quantization:
            args += ["--quantization", self.primary.quantization]
        if self.dtype != "auto":
            args += ["--dtype", self.dtype]
        if self.kv_cache_dtype != "auto":
            args += ["--kv-cache-dtype", self.kv_cache_dtype]
        if eager or self.enforce_eager:
            args.append("--enforce-eager")
        return args + list(self.extra_args)

    def launch_spec(self, period: Period = "side_by_side") -> LaunchSpec:
        """What deploy starts. Docker: arguments after the image's entrypoint; process: the full command."""
        args = self.vllm_args(period) + ["--host", "0.0.0.0" if self.backend == "docker" else self.host]
        args += ["--port", str(8000 if self.backend == "docker" else self.port)]
        command = args if self.backend == "docker" else [*self.command_prefix, *args]
        flags = self.side_by_side if period == "side_by_side" else self.after_decommission
        secrets = (["HF_TOKEN"] if self.hf_token_required else []) + (["VLLM_API_KEY"] if self.api_key_required else [])
        return LaunchSpec(
            name=self.container_name,
            image=self.image,
            command=command,
            host=self.host,
            port=self.port,
            container_port=8000 if self.backend == "docker" else self.port,
            secret_env=secrets,
            gpu_device_ids=self.gpu_device_ids,
            volumes={str(Path(self.hf_cache_dir).expanduser()): "/root/.cache/huggingface"},
            shm_size=self.shm_size,
            health_timeout_s=self.health_timeout_s,
            served_model_names=list(self.served_model_names),
            api_key_env="VLLM_API_KEY" if self.api_key_required else None,
            expected_vram_gib=round(flags.gpu_memory_utilization * self.gpu_cuda_total_gib, 2),
        )
