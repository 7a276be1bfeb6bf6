"""The real NVML probe, on a machine with an NVIDIA GPU (pytest -m gpu)."""

from __future__ import annotations

import pytest

from o2v.config import Settings
from o2v.gpu import DockerRuntimes, RealNVML, verify_gpu

pytestmark = pytest.mark.gpu


def test_real_probe_reads_the_gpu() -> None:
    snap = RealNVML().snapshot()
    assert snap.error is None, snap.error
    assert snap.driver_version
    assert snap.cuda_driver_version
    gpu = snap.gpus[0]
    assert gpu.total_memory_mib > 1024
    assert 0 <= gpu.free_memory_mib <= gpu.total_memory_mib
    major, minor = gpu.compute_capability.split(".")
    assert int(major) >= 3
    assert minor.isdigit()
    report = verify_gpu(
        Settings(gpu={"min_compute_capability": 3.0}),
        nvml=RealNVML(),  # type: ignore[arg-type]
        docker=DockerRuntimes(engine_reachable=True, runtimes=["nvidia"]),
    )
    assert report.verdict == "pass", report.violations
