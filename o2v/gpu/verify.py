"""Check the GPU host against what vLLM needs, collecting every violation before deciding."""

from __future__ import annotations

from typing import Any

from o2v.config import Settings
from o2v.gpu.docker_info import docker_runtimes
from o2v.gpu.models import DeviceSnapshot, DockerRuntimes, GPUReport
from o2v.gpu.nvml import NVMLSource, RealNVML, RecordedNVML


def source_from_settings(settings: Settings) -> NVMLSource:
    """The recorded description when configured, else the real driver."""
    if settings.gpu.recorded_devices is not None:
        return RecordedNVML(settings.gpu.recorded_devices)
    return RealNVML()


def verify_gpu(
    settings: Settings,
    required_vram_gib: float | None = None,
    nvml: NVMLSource | None = None,
    *,
    docker: DockerRuntimes | None = None,
    docker_client: Any | None = None,
) -> GPUReport:
    """Probe the GPUs and judge them; never raises for a missing driver (use ``raise_for_violations``).

    ``required_vram_gib`` is the memory vLLM's planned share needs on each selected GPU while Ollama still
    runs (the plan's side-by-side budget); ``gpu.min_free_gib`` is kept free on top of it.
    """
    snapshot: DeviceSnapshot = (nvml or source_from_settings(settings)).snapshot()
    if docker is None and settings.vllm.backend == "docker":
        docker = docker_runtimes(docker_client, image=settings.vllm.image)
    wanted = list(settings.gpu.device_indices)
    min_cc = settings.gpu.min_compute_capability
    report = GPUReport(
        verdict="pass",
        snapshot=snapshot,
        selected_indices=wanted,
        docker=docker,
        min_compute_capability=min_cc,
        required_vram_gib=required_vram_gib,
    )
    violations = report.violations

    if snapshot.error:
        violations.append(f"no usable NVIDIA GPU: {snapshot.error}")
    else:
        present = {g.index for g in snapshot.gpus}
        missing = [i for i in wanted if i not in present]
        if missing:
            violations.append(
                f"GPU index(es) {missing} configured in gpu.device_indices but the host has {sorted(present)}"
                " -- fix gpu.device_indices"
            )
        if settings.vllm.tensor_parallel_size > len(wanted):
            violations.append(
                f"vllm.tensor_parallel_size is {settings.vllm.tensor_parallel_size} but only "
                f"{len(wanted)} GPU(s) "
                "are selected -- list more gpu.device_indices or lower the tensor parallel size"
            )
        for gpu in report.selected:
            if gpu.compute_capability_value < min_cc:
                violations.append(
                    f"GPU {gpu.index} ({gpu.name}) has compute capability "
                    f"{gpu.compute_capability}, below the "
                    f"required {min_cc:.1f} -- use an Ampere (8.0) or newer GPU, or lower "
                    "gpu.min_compute_capability "
                    "knowing vLLM's support below 8.0 is limited (no bfloat16, fewer kernels)"
                )
            if required_vram_gib is not None:
                need = required_vram_gib + settings.gpu.min_free_gib
                if gpu.free_gib < need:
                    violations.append(
                        f"GPU {gpu.index} ({gpu.name}) has {gpu.free_gib:.1f} GiB free but vLLM's "
                        "planned share needs "
                        f"{need:.1f} GiB while Ollama holds {gpu.ollama_memory_mib / 1024:.1f} GiB "
                        "-- unload Ollama "
                        "models (keep_alive 0), use a quantized model, or lower gpu_memory_utilization"
                    )
        selected = report.selected
        if selected:
            report.ollama_vram_gib = round(sum(g.ollama_memory_mib for g in selected) / 1024, 2)
            report.available_for_vllm_gib = round(min(g.free_gib for g in selected), 2)
            if any(p.used_memory_mib is None for g in selected for p in g.processes):
                report.notes.append(
                    "the driver hides per-process memory here (containerised NVML); "
                    "Ollama's share comes from /api/ps instead"
                )

    if settings.vllm.backend == "docker" and docker is not None:
        if not docker.engine_reachable:
            violations.append(f"{docker.error} -- start dockerd or set vllm.backend: process")
        elif docker.simulator_image:
            report.notes.append(f"{settings.vllm.image} is an o2v simulator image: no NVIDIA runtime needed")
        elif not docker.nvidia:
            violations.append(
                f"Docker has no 'nvidia' runtime (runtimes: {', '.join(docker.runtimes) or 'none'})"
                " -- install nvidia-container-toolkit and run: nvidia-ctk runtime configure --runtime=docker;"
                " systemctl restart docker"
            )

    if snapshot.error:
        report.verdict = "no-gpu"
    elif violations:
        report.verdict = "fail"
    return report
