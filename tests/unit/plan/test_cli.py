from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from o2v.cli import app

GPUS = Path(__file__).parents[2] / "data" / "gpus"
runner = CliRunner()


def test_plan_size_prints_vllm_lines() -> None:
    result = runner.invoke(
        app,
        [
            "plan",
            "size",
            "--model",
            "llama3.1:8b",
            "--gpu-memory-gib",
            "39.39",
            "--gpu-name",
            "NVIDIA A100-SXM4-40GB",
            "--max-model-len",
            "8192",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "GPU KV cache size:" in result.output
    assert "Maximum concurrency for 8,192 tokens per request:" in result.output


def test_plan_size_json_and_config_path(tmp_path: Path) -> None:
    config = {
        "architectures": ["Qwen2ForCausalLM"],
        "num_hidden_layers": 28,
        "hidden_size": 3584,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "intermediate_size": 18944,
        "vocab_size": 152064,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = runner.invoke(
        app,
        [
            "plan",
            "size",
            "--model",
            str(path),
            "--gpu-memory-gib",
            "22.07",
            "--max-model-len",
            "32768",
            "--kv-cache-dtype",
            "fp8",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kv_dtype_bytes"] == 1
    assert data["page_bytes"] == 2 * 16 * 4 * 128


def test_plan_size_does_not_fit_exits_1() -> None:
    result = runner.invoke(
        app, ["plan", "size", "--model", "llama3.1:70b", "--gpu-memory-gib", "79.14", "--max-model-len", "8192"]
    )
    assert result.exit_code == 1
    assert "no memory left for the KV cache" in result.output


def test_plan_size_unknown_model_is_a_clear_error() -> None:
    result = runner.invoke(
        app, ["plan", "size", "--model", "nope:1b", "--gpu-memory-gib", "24", "--max-model-len", "4096"]
    )
    assert result.exit_code == 1
    assert "neither a config.json path nor a catalog model" in result.output


def test_gpu_command_with_recorded_t4_lists_violations(tmp_path: Path) -> None:
    cfg = tmp_path / "migration.yaml"
    cfg.write_text("vllm:\n  backend: process\n")
    result = runner.invoke(app, ["gpu", "--config", str(cfg), "--recorded", str(GPUS / "t4-16gb.json")])
    assert result.exit_code == 1
    assert "verdict: fail" in result.output
    assert "compute capability 7.5" in result.output


def test_plan_size_tight_on_a_desktop_card_exits_1() -> None:
    """Llama 3.1 8B on an RTX 3090 at a context only the central estimate holds: a 'tight' verdict is not a yes."""
    args = ["plan", "size", "--model", "llama3.1:8b", "--gpu-memory-gib", "23.58", "--gpu-name",
            "NVIDIA GeForce RTX 3090", "--max-model-len", "44000"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "conservative bound:" in result.output
    assert "-> tight" in result.output
    measured = runner.invoke(app, [*args[:-1], "36000", "--other-processes-gib", "0.3", "--vllm-version", "0.11.0"])
    assert measured.exit_code == 0, measured.output
    assert "-> fits" in measured.output
