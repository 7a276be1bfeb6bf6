"""The deploy phase re-reads the GPU: a plan sized from an old reading must not start vLLM on a changed card."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest

from o2v.config import Settings
from o2v.deploy import status
from o2v.errors import GateFailed, PhaseError
from o2v.gpu import DockerRuntimes, RecordedNVML, verify_gpu
from o2v.inventory import Inventory, OllamaModel
from o2v.notify import ConsoleNotifier
from o2v.phases import PhaseRunner
from o2v.plan import MigrationPlan, make_plan
from o2v.plan.gpu_recheck import recheck_gpu
from o2v.store import Store
from tasks.common import MigrationContext
from tasks.deploy import deploy_phase

GPUS = Path(__file__).parents[2] / "data" / "gpus"
NVIDIA = DockerRuntimes(engine_reachable=True, runtimes=["nvidia", "runc"])


def a100_plan(settings: Settings) -> MigrationPlan:
    inventory = Inventory(
        ollama_url="http://127.0.0.1:11434", ollama_version="0.12.3",
        models=[OllamaModel(name="llama3.1:8b", architecture="llama", family="llama")],
    )
    report = verify_gpu(settings, nvml=RecordedNVML(GPUS / "a100-80gb.json"), docker=NVIDIA)
    return make_plan(settings, inventory, report)


def recording_with_ollama_holding(tmp_path: Path, extra_mib: float) -> RecordedNVML:
    """The A100 recording after Ollama loaded another model taking ``extra_mib`` more."""
    data = json.loads((GPUS / "a100-80gb.json").read_text())
    card = data["gpus"][0]
    card["free_memory_mib"] -= extra_mib
    card["used_memory_mib"] += extra_mib
    card["processes"][0]["used_memory_mib"] += extra_mib
    path = tmp_path / "a100-busier.json"
    path.write_text(json.dumps(data))
    return RecordedNVML(path)


def test_the_same_reading_fits() -> None:
    settings = Settings()
    plan = a100_plan(settings)
    checked = recheck_gpu(settings, plan, nvml=RecordedNVML(GPUS / "a100-80gb.json"))
    assert checked.verdict == "fits"
    assert [g.index for g in checked.gpus] == [0]
    assert checked.needs_gib <= checked.gpus[0].free_gib
    assert "plan needs" in checked.figures()["GPU re-checked"]


def test_ollama_took_more_memory_since_the_plan(tmp_path: Path) -> None:
    settings = Settings()
    plan = a100_plan(settings)
    with pytest.raises(GateFailed) as failed:
        recheck_gpu(settings, plan, nvml=recording_with_ollama_holding(tmp_path, 16 * 1024))
    message = str(failed.value)
    assert "GPU re-check before deploy failed" in message
    assert "has 43.0 GiB free now, but the plan needs" in message
    assert f"when the plan was made {plan.gpu_free_gib:.1f} GiB were free" in message
    assert "nothing was started" in message
    assert "from_phase=verify_gpu" in message


def test_a_different_card_or_no_gpu_is_named(tmp_path: Path) -> None:
    settings = Settings()
    plan = a100_plan(settings)
    with pytest.raises(GateFailed, match=r"GPU 0 is now NVIDIA L4 with .* but the plan was made for NVIDIA A100"):
        recheck_gpu(settings, plan, nvml=RecordedNVML(GPUS / "l4-24gb.json"))
    with pytest.raises(GateFailed, match="no usable NVIDIA GPU right before deploy"):
        recheck_gpu(settings, plan, nvml=RecordedNVML(GPUS / "no-gpu.json"))


def test_a_running_vllm_holds_its_own_share_so_only_the_card_is_checked(tmp_path: Path) -> None:
    settings = Settings()
    plan = a100_plan(settings)
    busy = recording_with_ollama_holding(tmp_path, 40 * 1024)  # as if vLLM's share were in use
    assert recheck_gpu(settings, plan, nvml=busy, vllm_running=True).verdict == "vllm-running"
    with pytest.raises(GateFailed):
        recheck_gpu(settings, plan, nvml=busy, vllm_running=False)
    with pytest.raises(GateFailed, match="GPU 0 is now NVIDIA L4"):
        recheck_gpu(settings, plan, nvml=RecordedNVML(GPUS / "l4-24gb.json"), vllm_running=True)


def test_deploy_phase_stops_before_starting_anything_when_the_gpu_shrank(tmp_path: Path) -> None:
    """verify_gpu and plan were skipped (old reading); the fresh reading inside deploy refuses to start vLLM."""
    recording = tmp_path / "gpu.json"
    recording.write_text((GPUS / "a100-80gb.json").read_text())
    settings = Settings(
        migration_id="gpu-shrank", workdir=tmp_path / "work",
        vllm={"backend": "process", "command": ["false"], "port": 18123},
        gpu={"recorded_devices": str(recording)},
    )
    plan = a100_plan(settings)
    recording.write_text(recording_with_ollama_holding(tmp_path, 16 * 1024).path.read_text())
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    out = StringIO()
    ctx = MigrationContext(
        settings=settings, store=store, runner=PhaseRunner(store, settings.migration_id, settings.config_hash()),
        notifier=ConsoleNotifier(out, artifacts=False), reports_dir=tmp_path / "reports",
    )
    with pytest.raises(PhaseError) as failed:
        deploy_phase.fn(ctx, plan)
    assert "GPU re-check before deploy failed" in failed.value.reason
    assert not status(plan.container_name, "process", workdir=settings.workdir).exists
    assert [(e.phase, e.status) for e in store.ledger("gpu-shrank")] == [("deploy", "failed")]
    assert "GPU re-check before deploy" in out.getvalue()
