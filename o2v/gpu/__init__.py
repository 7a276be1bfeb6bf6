"""GPU verification: what the host has (NVML, Docker runtimes) against what vLLM needs.

``verify_gpu(settings, required_vram_gib=None, nvml=None) -> GPUReport``; ``GPUReport.raise_for_violations()``
raises ``GateFailed`` with every violation. ``RealNVML`` reads the driver, ``RecordedNVML`` a JSON
description.
"""

from __future__ import annotations

from o2v.gpu.docker_info import docker_runtimes
from o2v.gpu.models import DeviceSnapshot, DockerRuntimes, GPUInfo, GPUProcess, GPUReport
from o2v.gpu.nvml import NVMLSource, RealNVML, RecordedNVML, record
from o2v.gpu.verify import source_from_settings, verify_gpu

__all__ = [
    "DeviceSnapshot",
    "DockerRuntimes",
    "GPUInfo",
    "GPUProcess",
    "GPUReport",
    "NVMLSource",
    "RealNVML",
    "RecordedNVML",
    "docker_runtimes",
    "record",
    "source_from_settings",
    "verify_gpu",
]
