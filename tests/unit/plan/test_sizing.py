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


RTX3090 = dict(gpu_memory_gib=23.58, gpu_name="NVIDIA GeForce RTX 3090")


def test_other_processes_shrink_the_cache_only_where_vllm_charges_them() -> None:
    """V1 before 0.9 counted every byte in use on the device as its own non-torch memory; 0.9+ does not."""
    base = size(req(**RTX3090, other_processes_gib=0.0, vllm_version="0.8.5"))
    desktop = size(req(**RTX3090, other_processes_gib=1.0, vllm_version="0.8.5"))
    assert desktop.kv_cache_tokens == base.kv_cache_tokens  # the central estimate does not move
    assert desktop.reserve.other_processes_charged_gib == 1.0
    lost = (base.kv_cache_tokens_low - desktop.kv_cache_tokens_low) * desktop.kv_bytes_per_token / 1024**3
    assert lost == pytest.approx(1.0, abs=0.01)
    later = size(req(**RTX3090, other_processes_gib=1.0, vllm_version="0.11.0"))
    assert later.reserve.other_processes_charged_gib == 0.0
    assert later.fits


def test_unknown_desktop_is_assumed_on_geforce_cards_only() -> None:
    geforce = size(req(**RTX3090))
    assert geforce.reserve.other_processes_assumed
    assert geforce.reserve.other_processes_gib == 1.25
    l4 = size(req(gpu_memory_gib=22.07, gpu_name="NVIDIA L4"))
    assert l4.reserve.other_processes_gib == 0.0


def test_cuda_graphs_are_charged_to_the_budget_from_vllm_0_21() -> None:
    old = size(req(**RTX3090, other_processes_gib=0.0, vllm_version="vllm/vllm-openai:v0.11.0"))
    new = size(req(**RTX3090, other_processes_gib=0.0, vllm_version="0.21.0"))
    eager = size(req(**RTX3090, other_processes_gib=0.0, vllm_version="0.21.0", enforce_eager=True))
    assert old.reserve.cuda_graphs_charged_gib == 0.0
    assert new.reserve.cuda_graphs_charged_gib == new.cuda_graph_estimate_gib > 0
    assert eager.reserve.cuda_graphs_charged_gib == 0.0
    assert new.kv_cache_tokens_low < old.kv_cache_tokens_low


def test_tensor_parallel_graphs_on_geforce_cost_more() -> None:
    tp2 = dict(tensor_parallel_size=2, other_processes_gib=0.0, vllm_version="0.21.0")
    geforce = size(req(**RTX3090, **tp2))
    l4 = size(req(gpu_memory_gib=22.07, gpu_name="NVIDIA L4", **tp2))
    assert geforce.reserve.cuda_graphs_charged_gib == pytest.approx(4.6 * l4.reserve.cuda_graphs_charged_gib, 0.01)


def test_sampler_warm_up_dominates_with_many_sequences_and_a_big_vocabulary() -> None:
    qwen = lookup("qwen2.5:7b")
    assert qwen is not None
    result = size(req(arch=qwen.arch, gpu_name="NVIDIA H100 80GB HBM3", max_num_seqs=1024))
    # 1024 rows x 152064 x 4 B x 7 copies = 4.1 GiB, above the 8192-token forward pass
    assert result.reserve.sampler_extra_gib > 2.0
    assert result.fits


def test_tight_when_only_the_central_estimate_fits() -> None:
    longest_central = size(req(**RTX3090, max_model_len=1024)).kv_cache_tokens
    result = size(req(**RTX3090, max_model_len=longest_central))
    assert result.fits_expected
    assert not result.fits
    assert result.verdict == "tight"
    assert any(p.startswith("tight:") for p in result.problems)
    longest = largest_fitting_len(req(**RTX3090, max_model_len=longest_central))
    assert longest is not None
    assert longest < longest_central
    assert size(req(**RTX3090, max_model_len=longest)).verdict == "fits"


def test_version_parsing() -> None:
    from o2v.plan.reserve import parse_version

    assert parse_version("vllm/vllm-openai:v0.11.0") == (0, 11)
    assert parse_version("0.9.1") == (0, 9)
    assert parse_version("registry:5000/vllm:latest") is None
    assert parse_version(None) is None


def test_unknown_version_charges_the_worst_single_version_not_both() -> None:
    """Other processes are charged before 0.9 and CUDA graphs from 0.21: no version does both."""
    unknown = size(req(**RTX3090, other_processes_gib=1.0)).reserve
    assert unknown.other_processes_charged_gib == 1.0
    assert unknown.cuda_graphs_charged_gib == 0.0
    small_desktop = size(req(**RTX3090, other_processes_gib=0.2)).reserve
    assert small_desktop.other_processes_charged_gib == 0.0
    assert small_desktop.cuda_graphs_charged_gib > 0.2
