"""A small interface over NVML with two implementations: the real driver and a recorded description.

Why: GPU checks must be testable on machines without a GPU. ``RecordedNVML`` reads the same facts from JSON
(see tests/data/gpus/), ``RealNVML`` asks the driver through pynvml (nvidia-ml-py). Neither raises when there
is no driver or no GPU: the snapshot carries ``error`` and the verdict says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from o2v.errors import ConfigError
from o2v.gpu.models import DeviceSnapshot, GPUInfo, GPUProcess, MiB

OLLAMA_PROCESS_MARKERS = ("ollama",)


class NVMLSource(Protocol):
    def snapshot(self) -> DeviceSnapshot: ...


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def is_ollama_process(name: str) -> bool:
    base = name.rsplit("/", 1)[-1].lower()
    return any(marker in base for marker in OLLAMA_PROCESS_MARKERS)


class RealNVML:
    """Reads the local driver. Any NVML failure becomes ``snapshot.error`` with what to do."""

    def snapshot(self) -> DeviceSnapshot:
        try:
            import pynvml
        except ImportError as exc:  # pragma: no cover - a declared dependency
            return DeviceSnapshot(
                source="nvml", error=f"pynvml is not installed ({exc}); pip install nvidia-ml-py"
            )
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            return DeviceSnapshot(
                source="nvml",
                error=f"no NVIDIA driver could be loaded ({exc}); install the NVIDIA driver on this host, "
                "or run o2v gpu on the GPU host",
            )
        try:
            return self._read(pynvml)
        except pynvml.NVMLError as exc:
            return DeviceSnapshot(source="nvml", error=f"NVML query failed: {exc}")
        finally:
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError:
                pass

    def _read(self, nvml: Any) -> DeviceSnapshot:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        cuda = nvml.nvmlSystemGetCudaDriverVersion_v2()
        gpus: list[GPUInfo] = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            processes = []
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                try:
                    name = _text(nvml.nvmlSystemGetProcessName(proc.pid))
                except nvml.NVMLError:
                    name = ""
                used = getattr(proc, "usedGpuMemory", None)
                processes.append(
                    GPUProcess(
                        pid=proc.pid,
                        name=name,
                        is_ollama=is_ollama_process(name),
                        used_memory_mib=None if used is None else used / MiB,
                    )
                )
            gpus.append(
                GPUInfo(
                    index=index,
                    name=_text(nvml.nvmlDeviceGetName(handle)),
                    uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                    compute_capability=f"{major}.{minor}",
                    total_memory_mib=mem.total / MiB,
                    free_memory_mib=mem.free / MiB,
                    used_memory_mib=mem.used / MiB,
                    processes=processes,
                )
            )
        snap = DeviceSnapshot(
            source="nvml",
            driver_version=driver,
            cuda_driver_version=f"{cuda // 1000}.{cuda % 1000 // 10}",
            gpus=gpus,
        )
        if not gpus:
            snap.error = "the NVIDIA driver is loaded but reports no GPU; check nvidia-smi"
        return snap


class RecordedNVML:
    """A device description recorded as JSON: ``{"driver_version", "cuda_driver_version", "gpus": [...]}``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def snapshot(self) -> DeviceSnapshot:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                [f"{self.path}: expected a recorded GPU description (JSON), got: {exc}"]
            ) from exc
        data.setdefault("source", str(self.path))
        for gpu in data.get("gpus", []):
            for proc in gpu.get("processes", []):
                proc.setdefault("is_ollama", is_ollama_process(proc.get("name", "")))
        try:
            snap = DeviceSnapshot.model_validate(data)
        except ValidationError as exc:
            raise ConfigError([f"{self.path}: {err['loc']}: {err['msg']}" for err in exc.errors()]) from exc
        if not snap.gpus and snap.error is None:
            snap.error = "the recorded description lists no GPU"
        return snap


def record(snapshot: DeviceSnapshot, path: Path) -> Path:
    """Save a snapshot so that the plan can be re-made, and tested, away from the GPU host."""
    path.write_text(snapshot.model_dump_json(indent=2, exclude={"source"}) + "\n", encoding="utf-8")
    return path
