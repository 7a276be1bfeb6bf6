from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from o2v.errors import ConfigError
from o2v.plan import SizingRequest, arch_from_config, largest_fitting_len, lookup, size
from o2v.plan.sizing import batch_defaults

LLAMA_8B = lookup("llama3.1:8b")
assert LLAMA_8B is not None


def req(**kw: object) -> SizingRequest:
    base: dict[str, object] = dict(model_name="m", arch=LLAMA_8B.arch, gpu_memory_gib=79.14, max_model_len=8192)
    base.update(kw)
    return SizingRequest(**base)  # type: ignore[arg-type]


def test_page_size_follows_vllm_formula() -> None:
    result = size(req())
    assert result.page_bytes == 2 * 16 * 8 * 128 * 2
    assert result.kv_bytes_per_token == 128 * 1024  # 128 KiB per token for Llama 3.1 8B in bf16
    assert result.kv_cache_tokens == result.num_blocks * 16
    assert result.fits


def test_fp8_kv_cache_doubles_tokens() -> None:
    auto, fp8 = size(req()), size(req(kv_cache_dtype="fp8"))
    assert fp8.num_blocks == pytest.approx(2 * auto.num_blocks, abs=1)


def test_tensor_parallel_splits_kv_heads_and_weights() -> None:
    tp1, tp2 = size(req(gpu_memory_gib=22.07)), size(req(gpu_memory_gib=22.07, tensor_parallel_size=2))
    assert tp2.kv_heads_per_gpu == 4
    assert tp2.weights_gib == pytest.approx(tp1.weights_gib / 2, rel=0.01)
    assert tp2.kv_cache_tokens > 2 * tp1.kv_cache_tokens


def test_quantization_shrinks_weights() -> None:
    bf16, awq, fp8 = size(req()), size(req(quantization="awq")), size(req(quantization="fp8"))
    assert awq.weights_gib < fp8.weights_gib < bf16.weights_gib
    assert 5.0 < awq.weights_gib < 6.0


def test_not_enough_memory_is_a_problem_not_a_crash() -> None:
    result = size(req(gpu_memory_gib=15.0))
    assert not result.fits
    assert result.num_blocks == 0
    assert "no memory left for the KV cache" in result.problems[0]


def test_too_long_context_names_the_longest_that_fits() -> None:
    result = size(req(gpu_memory_gib=22.07, max_model_len=131072))
    assert not result.fits
    assert f"at most {result.kv_cache_tokens}" in result.problems[0]
    longest = largest_fitting_len(req(gpu_memory_gib=22.07, max_model_len=131072))
    assert longest is not None
    assert size(req(gpu_memory_gib=22.07, max_model_len=longest)).fits


def test_headroom_warning_for_high_utilization() -> None:
    result = size(req(gpu_memory_gib=22.07, gpu_memory_utilization=0.99))
    assert any("--enforce-eager" in p for p in result.problems)
    assert not any(
        "--enforce-eager" in p
        for p in size(req(gpu_memory_gib=22.07, enforce_eager=True, gpu_memory_utilization=0.97)).problems
    )


def test_batch_defaults_match_vllm() -> None:
    assert batch_defaults(79.19, "NVIDIA H100 80GB HBM3", "serve") == (8192, 1024)
    assert batch_defaults(79.14, "NVIDIA A100-SXM4-80GB", "serve") == (2048, 256)
    assert batch_defaults(22.07, "NVIDIA L4", "offline") == (8192, 256)


def test_tp_must_divide_heads() -> None:
    with pytest.raises(ValidationError, match="must divide"):
        req(tensor_parallel_size=3)


def test_arch_from_hf_config(tmp_path: Path) -> None:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "num_hidden_layers": 32,
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 14336,
        "vocab_size": 128256,
        "max_position_embeddings": 131072,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    arch = arch_from_config(path)
    assert arch.head_size == 128
    assert arch.params_b == pytest.approx(8.03, rel=0.01)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match="num_hidden_layers"):
        arch_from_config(bad)
