from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from o2v.config import Settings
from o2v.errors import GateFailed
from o2v.gpu import DockerRuntimes, GPUReport, RecordedNVML, verify_gpu
from o2v.inventory import Inventory, LoadedModel, OllamaModel
from o2v.plan import make_plan, render_compose

GPUS = Path(__file__).parents[2] / "data" / "gpus"
NVIDIA = DockerRuntimes(engine_reachable=True, runtimes=["nvidia", "runc"])


def inventory(*tags: str, arch: str = "llama", loaded: str | None = None, version: str = "0.12.3") -> Inventory:
    models = [OllamaModel(name=t, architecture=arch, family=arch) for t in tags]
    ps = [LoadedModel(name=loaded, size_vram_bytes=6 * 1024**3, context_length=8192)] if loaded else []
    return Inventory(ollama_url="http://127.0.0.1:11434", ollama_version=version, models=models, loaded=ps)


def gpu(settings: Settings, name: str) -> GPUReport:
    return verify_gpu(settings, nvml=RecordedNVML(GPUS / name), docker=NVIDIA)


def test_a100_plan_both_periods() -> None:
    s = Settings()
    plan = make_plan(s, inventory("llama3.1:8b", "mystery:7b", loaded="llama3.1:8b"), gpu(s, "a100-80gb.json"))
    assert plan.primary.hf_repo == "meta-llama/Llama-3.1-8B-Instruct"
    assert plan.primary.quantization is None
    side, after = plan.side_by_side, plan.after_decommission
    # Side by side leaves Ollama's memory: utilization * CUDA total stays below the free memory.
    assert side.gpu_memory_utilization * plan.gpu_cuda_total_gib <= plan.gpu_free_gib - 0.5
    assert side.gpu_memory_utilization < after.gpu_memory_utilization == 0.9
    assert side.max_model_len == after.max_model_len == 8192
    assert side.sizing.kv_cache_tokens < after.sizing.kv_cache_tokens
    assert 1 <= side.max_num_seqs <= 256
    assert after.max_num_seqs >= side.max_num_seqs
    assert any("max_num_seqs" in line for line in side.reasoning)
    unknown = next(m for m in plan.models if m.ollama_tag == "mystery:7b")
    assert unknown.source == "unknown"
    assert unknown.hf_repo is None
    assert any("mystery:7b" in n for n in plan.notes)


def test_launch_spec_docker_and_process() -> None:
    s = Settings(vllm={"api_key": "secret-token"})  # type: ignore[arg-type]
    plan = make_plan(s, inventory("llama3.1:8b"), gpu(s, "a100-80gb.json"))
    spec = plan.launch_spec()
    assert spec.image == s.vllm.image
    assert spec.port == 8000
    assert spec.command[:2] == ["--model", "meta-llama/Llama-3.1-8B-Instruct"]
    assert "--served-model-name" in spec.command
    assert "llama3.1:8b" in spec.served_model_names
    assert spec.secret_env == ["HF_TOKEN", "VLLM_API_KEY"]
    assert spec.api_key_env == "VLLM_API_KEY"
    assert "secret-token" not in " ".join(spec.command)
    assert spec.expected_vram_gib == pytest.approx(
        plan.side_by_side.gpu_memory_utilization * plan.gpu_cuda_total_gib, abs=0.01
    )
    after = plan.launch_spec("after_decommission")
    assert after.fingerprint() != spec.fingerprint()
    sp = Settings(vllm={"backend": "process", "port": 8011})  # type: ignore[arg-type]
    proc = make_plan(sp, inventory("qwen2.5:7b"), gpu(sp, "a100-80gb.json")).launch_spec()
    assert proc.command[:4] == ["vllm", "serve", "--model", "Qwen/Qwen2.5-7B-Instruct"]
    assert proc.command[-2:] == ["--port", "8011"]
    assert proc.secret_env == []


def test_l4_next_to_ollama_picks_a_quantized_variant() -> None:
    s = Settings()
    plan = make_plan(s, inventory("llama3.1:8b", loaded="llama3.1:8b"), gpu(s, "l4-24gb.json"))
    assert plan.primary.quantization == "fp8"
    assert plan.primary.hf_repo == "neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8"
    assert plan.side_by_side.sizing.fits
    assert any("FP8 variant" in n for n in plan.notes)


def test_t4_stops_the_plan_with_reasons() -> None:
    s = Settings()
    with pytest.raises(GateFailed) as info:
        make_plan(s, inventory("llama3.1:8b"), gpu(s, "t4-16gb.json"))
    assert "compute capability 7.5" in info.value.violations[0]


def test_unknown_primary_and_unsupported_architecture_stop() -> None:
    s = Settings()
    with pytest.raises(GateFailed) as info:
        make_plan(s, inventory("llama3.1:405b"), gpu(s, "a100-80gb.json"))
    assert "candidates: meta-llama/Llama-3.1" in info.value.violations[0]
    mapped = Settings(models={"t5:large": {"hf_repo": "google/t5-large"}})  # type: ignore[arg-type]
    with pytest.raises(GateFailed) as info2:
        make_plan(mapped, inventory("t5:large", arch="t5"), gpu(mapped, "a100-80gb.json"))
    assert any("not in the built-in catalog" in v for v in info2.value.violations)


def test_config_override_wins_and_sets_served_name() -> None:
    s = Settings(
        models={
            "llama3.1:8b": {
                "hf_repo": "hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4",  # type: ignore[arg-type]
                "quantization": "awq",
                "served_name": "team-llm",
            }
        }
    )
    plan = make_plan(s, inventory("llama3.1:8b"), gpu(s, "a100-80gb.json"))
    assert plan.primary.source == "config"
    assert plan.served_model_names == ["team-llm"]
    assert plan.side_by_side.sizing.weights_gib < 6


def test_render_compose_files(tmp_path: Path) -> None:
    s = Settings()
    plan = make_plan(s, inventory("llama3.1:8b", loaded="llama3.1:8b"), gpu(s, "a100-80gb.json"))
    paths = render_compose(plan, tmp_path)
    assert [p.name for p in paths] == [
        "docker-compose.side-by-side.yml",
        "docker-compose.vllm.yml",
        "docker-compose.eager.yml",
        "docker-compose.gateway.yml",
    ]
    side = yaml.safe_load(paths[0].read_text())
    vllm = side["services"]["vllm"]
    assert vllm["depends_on"] == {"ollama": {"condition": "service_healthy"}}
    assert "healthcheck" in side["services"]["ollama"]
    assert "healthcheck" in vllm
    assert vllm["environment"]["HF_TOKEN"].startswith("${HF_TOKEN:?")
    assert side["services"]["ollama"]["image"] == "ollama/ollama:0.12.3"
    assert ":" in vllm["image"]
    assert not vllm["image"].endswith(":latest")
    util = vllm["command"][vllm["command"].index("--gpu-memory-utilization") + 1]
    assert float(util) == plan.side_by_side.gpu_memory_utilization
    alone = yaml.safe_load(paths[1].read_text())["services"]["vllm"]
    assert alone["command"][alone["command"].index("--gpu-memory-utilization") + 1] == "0.90"
    eager = yaml.safe_load(paths[2].read_text())["services"]["vllm"]["command"]
    assert eager[-5] == "--enforce-eager"
    assert "hf_" not in (tmp_path / ".env.example").read_text().replace("HF_TOKEN=hf_...", "")
