from __future__ import annotations

from pathlib import Path

import pytest
from support.engines import need

from o2v.config import Settings
from o2v.errors import ConfigError, GateFailed
from o2v.gpu import DockerRuntimes, RealNVML, RecordedNVML, docker_runtimes, record, verify_gpu

GPUS = Path(__file__).parents[2] / "data" / "gpus"
NVIDIA = DockerRuntimes(engine_reachable=True, runtimes=["nvidia", "runc"], default_runtime="runc")


def settings(**gpu: object) -> Settings:
    return Settings(gpu=gpu)  # type: ignore[arg-type]


def test_a100_passes_and_reports_ollamas_share() -> None:
    report = verify_gpu(settings(), nvml=RecordedNVML(GPUS / "a100-80gb.json"), docker=NVIDIA)
    assert report.verdict == "pass", report.violations
    gpu = report.selected[0]
    assert gpu.compute_capability == "8.0"
    assert report.ollama_vram_gib == pytest.approx(21062 / 1024, abs=0.01)
    assert report.snapshot.driver_version == "550.90.07"
    report.raise_for_violations()


def test_t4_fails_with_every_violation_at_once() -> None:
    report = verify_gpu(
        settings(device_indices=[0, 3]),
        required_vram_gib=12.0,
        nvml=RecordedNVML(GPUS / "t4-16gb.json"),
        docker=DockerRuntimes(engine_reachable=True, runtimes=["runc"]),
    )
    assert report.verdict == "fail"
    text = "\n".join(report.violations)
    assert "compute capability 7.5, below the required 8.0" in text
    assert "8.9 GiB free but vLLM's planned share needs 12.0 GiB" in text
    assert "GPU index(es) [3]" in text
    assert "no 'nvidia' runtime" in text
    assert len(report.violations) == 4
    with pytest.raises(GateFailed) as info:
        report.raise_for_violations()
    assert len(info.value.violations) == 4


def test_min_compute_capability_is_configurable() -> None:
    report = verify_gpu(settings(min_compute_capability=7.5), nvml=RecordedNVML(GPUS / "t4-16gb.json"), docker=NVIDIA)
    assert report.verdict == "pass"


def test_recorded_host_without_gpu_is_a_verdict() -> None:
    report = verify_gpu(settings(), nvml=RecordedNVML(GPUS / "no-gpu.json"), docker=NVIDIA)
    assert report.verdict == "no-gpu"
    assert "lists no GPU" in report.violations[0]


def test_real_nvml_without_driver_is_a_clear_verdict() -> None:
    """Runs the real pynvml path; on a machine with a driver it is the gpu-marked test's job."""
    snap = RealNVML().snapshot()
    if snap.error is None:
        need("a host without an NVIDIA driver", "a driver is present here; test_real_probe.py covers this host")
    report = verify_gpu(Settings(), nvml=RealNVML(), docker=NVIDIA)
    assert report.verdict == "no-gpu"
    assert "install the NVIDIA driver" in report.violations[0]


def test_tensor_parallel_needs_enough_gpus() -> None:
    s = Settings(vllm={"tensor_parallel_size": 2})  # type: ignore[arg-type]
    report = verify_gpu(s, nvml=RecordedNVML(GPUS / "a100-80gb.json"), docker=NVIDIA)
    assert any("tensor_parallel_size is 2" in v for v in report.violations)
    s2 = Settings(vllm={"tensor_parallel_size": 2}, gpu={"device_indices": [0, 1]})  # type: ignore[arg-type]
    assert verify_gpu(s2, nvml=RecordedNVML(GPUS / "h100-80gb.json"), docker=NVIDIA).verdict == "pass"


def test_docker_engine_absent_is_a_fact() -> None:
    class NoEngine:
        def info(self) -> dict:
            raise ConnectionError("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")

    runtimes = docker_runtimes(NoEngine())
    assert not runtimes.engine_reachable
    report = verify_gpu(settings(), nvml=RecordedNVML(GPUS / "a100-80gb.json"), docker=runtimes)
    assert report.verdict == "fail"
    assert "no Docker engine reachable" in report.violations[0]
    process = Settings(vllm={"backend": "process"})  # type: ignore[arg-type]
    assert verify_gpu(process, nvml=RecordedNVML(GPUS / "a100-80gb.json")).verdict == "pass"


def test_docker_info_runtimes_read() -> None:
    class Engine:
        def info(self) -> dict:
            return {"Runtimes": {"runc": {}, "nvidia": {"path": "nvidia-container-runtime"}}, "DefaultRuntime": "runc"}

    assert docker_runtimes(Engine()).nvidia


def test_record_round_trip_and_bad_file(tmp_path: Path) -> None:
    snap = RecordedNVML(GPUS / "l4-24gb.json").snapshot()
    again = RecordedNVML(record(snap, tmp_path / "copy.json")).snapshot()
    assert again.gpus == snap.gpus
    assert again.gpus[0].processes[0].is_ollama
    (tmp_path / "bad.json").write_text('{"gpus": [{"index": "x"}]}')
    with pytest.raises(ConfigError):
        RecordedNVML(tmp_path / "bad.json").snapshot()


def test_a_recording_taken_on_a_real_h200_passes() -> None:
    # Recorded with `o2v gpu --record` on an NVIDIA H200 (driver 580.159.04) during development.
    report = verify_gpu(settings(), nvml=RecordedNVML(GPUS / "h200-141gb-real.json"), docker=NVIDIA)
    assert report.verdict == "pass", report.violations
    gpu = report.selected[0]
    assert gpu.name == "NVIDIA H200"
    assert gpu.compute_capability == "9.0"
    assert round(gpu.total_memory_mib / 1024, 1) == 140.4
