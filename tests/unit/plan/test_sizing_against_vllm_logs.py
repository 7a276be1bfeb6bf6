"""The sizing must agree with the figures vLLM itself printed at start-up, and never say "fits" where it refused.

Each case is a real start-up log found in public material; the source is cited next to it. None of these
logs was used to derive the central formula's constants except as a check (the non-torch reserve of 0.25 GiB
is the middle of the 0.01-0.35 GiB range these logs report), so they stand for GPUs and models nobody here ran.
The conservative bound's activation spread (20%) was set from the RTX 3090 / WildGuard refusal below.
"""

from __future__ import annotations

import pytest

from o2v.plan import SizingRequest, lookup, size
from o2v.plan.catalog import ArchFacts

LLAMA_8B = lookup("llama3.1:8b")
QWEN_1_5B = lookup("qwen2.5:1.5b")
MISTRAL_7B = lookup("mistral:7b")
LLAMA_3B = lookup("llama3.2:3b")
assert LLAMA_8B is not None
assert QWEN_1_5B is not None
assert MISTRAL_7B is not None
assert LLAMA_3B is not None
# Qwen/Qwen1.5-7B-Chat config.json (not in the catalog): full multi-head attention, 32 KV heads.
QWEN1_5_7B = ArchFacts(
    architecture="Qwen2ForCausalLM", num_layers=32, num_attention_heads=32, num_kv_heads=32, head_size=128,
    hidden_size=4096, intermediate_size=11008, vocab_size=151936, params_b=7.721, max_position_embeddings=32768,
)  # fmt: skip

RTX3090 = dict(gpu_memory_gib=23.58, gpu_name="NVIDIA GeForce RTX 3090")

# (request, tokens vLLM reported, concurrency it reported, whether it started, tolerance of the central estimate)
CASES = [
    pytest.param(
        # https://github.com/vllm-project/vllm/issues/10517 (comment by kaspersiminski, 2024-12-02):
        # RTX 3090, meta-llama/Llama-3.1-8B-Instruct, v0 engine, total_gpu_memory=23.58GiB, utilization 0.90,
        # "GPU blocks: 1952" and "Maximum concurrency for 20000 tokens per request: 1.56x". Started.
        dict(arch=LLAMA_8B.arch, **RTX3090, max_model_len=20000, engine="v0"),
        1952 * 16,
        1.56,
        True,
        0.10,
        id="rtx3090-llama3.1-8b-20k",
    ),
    pytest.param(
        # Same issue and comment, --max-model-len 29000: "# GPU blocks: 1478", "0.82x", then refused: "The model's
        # max seq len (29000) is larger than the maximum number of tokens that can be stored in KV cache (23648)".
        dict(arch=LLAMA_8B.arch, **RTX3090, max_model_len=29000, engine="v0"),
        1478 * 16,
        0.82,
        False,
        0.10,
        id="rtx3090-llama3.1-8b-29k-refused",
    ),
    pytest.param(
        # A public vLLM troubleshooting write-up (GitHub code index id 14319663172), v0 engine on an L4
        # (total_gpu_memory 22.07GiB), Llama 3.1 8B ("Loading model weights took 14.9888 GB"), utilization 0.90,
        # max_model_len 131072: "# CUDA blocks: 2356", "Maximum concurrency for 131072 tokens per request: 0.29x"
        # (below 1x: the v0 engine refuses to start).
        dict(arch=LLAMA_8B.arch, gpu_memory_gib=22.07, gpu_name="NVIDIA L4", max_model_len=131072, engine="v0"),
        2356 * 16,
        0.29,
        False,
        0.10,
        id="l4-llama3.1-8b-128k-refused",
    ),
    pytest.param(
        # A public GRPO training log (GitHub code index id 55594152188), "Initializing a V0 LLM engine (v0.7.2)",
        # Tesla T4 (total_gpu_memory 14.56GiB, float16), Qwen/Qwen2.5-1.5B-Instruct, utilization 0.50,
        # max_seq_len 32768: "# CUDA blocks: 5519", "Maximum concurrency for 32768 tokens per request: 2.69x".
        dict(
            arch=QWEN_1_5B.arch,
            gpu_memory_gib=14.56,
            gpu_name="Tesla T4",
            gpu_memory_utilization=0.5,
            max_model_len=32768,
            dtype="float16",
            engine="v0",
            vllm_version="0.7.2",
        ),
        5519 * 16,
        2.69,
        True,
        0.10,
        id="t4-qwen2.5-1.5b-32k",
    ),
    pytest.param(
        # github.com/ilseokoh/vllm-gce README (GCE a2-highgpu-1g = A100 40GB, total 39.39 GiB),
        # "Initializing a V1 LLM engine (v0.15.1)", LLM class, enforce_eager, utilization 0.9, max_model_len 131072:
        # "GPU KV cache size: 157,936 tokens", "Maximum concurrency for 131,072 tokens per request: 1.20x".
        dict(
            arch=LLAMA_8B.arch,
            gpu_memory_gib=39.39,
            gpu_name="NVIDIA A100-SXM4-40GB",
            max_model_len=131072,
            usage="offline",
            enforce_eager=True,
            vllm_version="0.15.1",
        ),
        157936,
        1.20,
        True,
        0.10,
        id="a100-40gb-llama3.1-8b-v1",
    ),
    pytest.param(
        # https://github.com/allenai/wildguard/pull/2 (2024-07-01): RTX 3090, allenai/wildguard (a Mistral-7B-v0.3
        # fine-tune, bf16) through LLM(model=...) with vLLM's defaults (utilization 0.90, max_model_len 32768),
        # refused: "The model's max seq len (32768) is larger than the maximum number of tokens that can be stored
        # in KV cache (30448)". The central estimate is 16% high here: vLLM of that time (0.5) measured the drop
        # in free memory, allocator slack included, where later versions measure PyTorch's allocated peak.
        dict(arch=MISTRAL_7B.arch, **RTX3090, max_model_len=32768, engine="v0", usage="offline"),
        30448,
        30448 / 32768,
        False,
        0.17,
        id="rtx3090-wildguard-mistral-7b-32k-refused",
    ),
    pytest.param(
        # https://github.com/QwenLM/Qwen3/issues/16 (2024-02-06): RTX 3090, Qwen1.5-7B-Chat-GPTQ-Int4 with
        # --quantization gptq and vLLM's defaults (utilization 0.90, the model's 32768): refused, "The model's max
        # seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (24320)".
        dict(
            arch=QWEN1_5_7B,
            **RTX3090,
            max_model_len=32768,
            engine="v0",
            quantization="gptq",
            dtype="float16",
        ),
        24320,
        24320 / 32768,
        False,
        0.10,
        id="rtx3090-qwen1.5-7b-gptq-32k-refused",
    ),
]


@pytest.mark.parametrize(("kwargs", "tokens", "concurrency", "started", "rel"), CASES)
def test_kv_tokens_and_concurrency_agree_with_the_log(
    kwargs: dict, tokens: int, concurrency: float, started: bool, rel: float
) -> None:
    result = size(SizingRequest(model_name="case", **kwargs))
    assert result.kv_cache_tokens == pytest.approx(tokens, rel=rel)
    assert result.max_concurrency == pytest.approx(concurrency, rel=rel)


@pytest.mark.parametrize(("kwargs", "tokens", "concurrency", "started", "rel"), CASES)
def test_never_fits_where_vllm_refused(
    kwargs: dict, tokens: int, concurrency: float, started: bool, rel: float
) -> None:
    """The "does it fit" answer is the conservative one: where vLLM refused, it is never "fits"; where vLLM
    started, the bound still holds the context (it is not so conservative that it rejects what works)."""
    result = size(SizingRequest(model_name="case", **kwargs))
    if started:
        assert result.fits
        assert result.verdict == "fits"
        assert result.kv_cache_tokens_low <= tokens * 1.10  # a lower bound, give or take the central error
    else:
        assert not result.fits
        assert result.verdict != "fits"
        assert result.problems


# Published start-up refusals by vLLM's free-memory check (V1 0.9 and later): "Free memory on device (F/T GiB) on
# startup is less than desired GPU memory utilization (U, R GiB)", and one that passed it. The check compares free
# memory only, so the model in each request is a stand-in where the source does not name one. other_processes_gib
# is what the line implies others held: T - F - vLLM's own context (0.63 GiB).
STARTUP = [
    pytest.param(
        # A public Orpheus-TTS setup write-up (GitHub code index id 53104232720): RTX 3090,
        # canopylabs/orpheus-tts-0.1-finetune-prod (a Llama-3.2-3B), "Free memory on device cuda:0 (12.18/23.56 GiB)
        # on startup is less than desired GPU memory utilization (0.92, 21.67 GiB)".
        dict(
            arch=LLAMA_3B.arch,
            gpu_memory_gib=23.56,
            gpu_name="NVIDIA GeForce RTX 3090",
            gpu_memory_utilization=0.92,
            max_model_len=8192,
        ),
        12.18,
        False,
        id="rtx3090-orpheus-3b-refused",
    ),
    pytest.param(
        # https://github.com/pytorch/pytorch/issues/175666 (vLLM CI on an L4 with torch 2.11): "Free memory on
        # device cuda:0 (19.77/22.05 GiB) on startup is less than desired GPU memory utilization (0.9, 19.84 GiB)".
        dict(arch=LLAMA_3B.arch, gpu_memory_gib=22.05, gpu_name="NVIDIA L4", max_model_len=8192),
        19.77,
        False,
        id="l4-short-by-0.07-gib-refused",
    ),
    pytest.param(
        # https://github.com/vllm-project/vllm/issues/20305 (vLLM 0.9.1, a 48 GB card): "Free memory on device
        # (31.44/47.38 GiB) on startup is less than desired GPU memory utilization (0.95, 45.01 GiB)".
        dict(
            arch=LLAMA_8B.arch,
            gpu_memory_gib=47.38,
            gpu_memory_utilization=0.95,
            max_model_len=8192,
            vllm_version="0.9.1",
        ),
        31.44,
        False,
        id="48gb-v0.9.1-refused",
    ),
    pytest.param(
        # https://github.com/wtdcode/vllm-backport/issues/34 (8x RTX 3090, PP x TP): "Free memory on device
        # (22.93/23.56 GiB) on startup. Desired GPU memory utilization is (0.935, 22.03 GiB)" -- it started.
        dict(
            arch=LLAMA_3B.arch,
            gpu_memory_gib=23.56,
            gpu_name="NVIDIA GeForce RTX 3090",
            gpu_memory_utilization=0.935,
            max_model_len=8192,
        ),
        22.93,
        True,
        id="rtx3090-0.935-started",
    ),
]


@pytest.mark.parametrize(("kwargs", "free_gib", "started"), STARTUP)
def test_startup_free_memory_check(kwargs: dict, free_gib: float, started: bool) -> None:
    other = round(kwargs["gpu_memory_gib"] - free_gib - 0.63, 3)
    result = size(SizingRequest(model_name="case", other_processes_gib=other, **kwargs))
    assert result.reserve.startup_free_gib == pytest.approx(free_gib, abs=0.01)
    refused = any("vLLM refuses to start" in p for p in result.problems)
    assert refused is not started
    if not started:
        assert not result.fits
        assert result.verdict == "does_not_fit"


def test_book_example_a100_80gb_kv_memory() -> None:
    """A published vLLM log (Example 4-3 of a public book draft, GitHub code index id 57908690698):
    total_gpu_memory 79.14GiB x 0.90, Llama 3.1 8B -> "the rest of the memory reserved for KV Cache is 54.93GiB".
    (Its max_model_len is not printed, so only the KV memory is compared, at vLLM's default of 8192.)"""
    result = size(
        SizingRequest(
            model_name="book",
            arch=LLAMA_8B.arch,
            gpu_memory_gib=79.14,
            max_model_len=8192,
            gpu_name="NVIDIA A100-SXM4-80GB",
        )
    )
    assert result.kv_cache_gib == pytest.approx(54.93, rel=0.10)
    assert result.fits
