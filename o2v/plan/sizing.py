"""vLLM's own memory arithmetic, so that "how many sequences fit?" is answered before anything starts.

vLLM (``gpu_worker.determine_available_memory`` and ``kv_cache_utils``) does this at start-up:

    budget     = total_memory * gpu_memory_utilization
    kv_memory  = budget - (weights + peak activation of one profiling forward pass + non-torch memory)
    page_bytes = 2 (K and V) * block_size * kv_heads_per_gpu * head_size * kv_dtype_bytes
    num_blocks = kv_memory // page_bytes // num_layers
    tokens     = num_blocks * block_size                    ("GPU KV cache size: N tokens")
    concurrency= num_blocks / ceil(max_model_len / block_size)
                                                 ("Maximum concurrency for L tokens per request: C.CCx")

Only the activation peak and the non-torch memory are measured by vLLM rather than computed; they are
estimated here from the shapes of the profiling pass (see ``activation_bytes``). The estimate is checked
against real start-up logs in tests/unit/plan/test_sizing_against_vllm_logs.py. CUDA graphs are captured
after the KV cache is allocated (vLLM before 0.21), so they come out of the memory *outside* the budget: the
headroom check below says when that memory is too small.

That central estimate is what vLLM will most likely print. ``fits`` is decided on a conservative bound
instead (``reserve.py``): the central cache minus what some vLLM versions and some machines also charge to it
(other processes on the card, CUDA graphs inside the budget, the sampler's warm-up, measured spread), plus
vLLM's refusal to start when free memory is below ``utilization x total``. ``verdict`` says "fits" when even
the bound fits, "tight" when only the central estimate does, "does_not_fit" otherwise.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from o2v.plan.catalog import ArchFacts
from o2v.plan.reserve import Reserve, parse_version, reserve
from o2v.plan.sizing_text import problems_for, steps_for

GiB = 1024**3
Engine = Literal["v1", "v0"]
KVCacheDType = Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"]
DType = Literal["auto", "bfloat16", "float16", "float32"]
QuantMethod = Literal["awq", "gptq", "fp8"]

# Bytes per parameter of quantized linear layers: int4 plus one fp16 scale and a packed zero point
# per group of 128.
_QUANT_LINEAR_BYTES: dict[str, float] = {"awq": 0.5 + 2.5 / 128, "gptq": 0.5 + 2.5 / 128, "fp8": 1.0}
# CUDA context, cuBLAS workspaces and other allocations outside PyTorch's allocator that vLLM counts
# ("non_torch_memory"); observed 0.01-0.35 GiB on one GPU. Tensor parallelism adds NCCL buffers.
_NON_TORCH_GIB = 0.25
_NON_TORCH_TP_EXTRA_GIB = 0.35
# Memory outside the budget the process still needs: the CUDA context itself.
_CUDA_CONTEXT_GIB = 0.5


class SizingRequest(BaseModel):
    """Everything vLLM's arithmetic depends on; defaults follow ``vllm serve``."""

    model_name: str = Field(..., description="Catalog name, HF repository or config path (for the report).")
    arch: ArchFacts
    gpu_memory_gib: float = Field(..., gt=0, description="Total memory of ONE GPU as CUDA reports it, GiB.")
    gpu_name: str = Field(default="", description="Device name; vLLM picks smaller batch defaults for A100s.")
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    max_model_len: int = Field(..., ge=16)
    tensor_parallel_size: int = Field(default=1, ge=1)
    dtype: DType = "auto"
    quantization: QuantMethod | None = None
    kv_cache_dtype: KVCacheDType = "auto"
    max_num_seqs: int | None = Field(default=None, ge=1, description="None = vLLM's default for this GPU.")
    max_num_batched_tokens: int | None = Field(default=None, ge=1, description="None = vLLM's default for this GPU.")
    enforce_eager: bool = False
    block_size: int = Field(default=16, ge=1)
    engine: Engine = Field(default="v1", description="v1 (vLLM >= 0.8) or the older v0 engine.")
    usage: Literal["serve", "offline"] = Field(default="serve", description="`vllm serve` or the offline LLM class.")
    non_torch_gib: float | None = Field(default=None, ge=0, description="Override the non-torch memory estimate.")
    weights_gib: float | None = Field(
        default=None, gt=0, description="Override (e.g. vLLM's 'Model loading took X GiB')."
    )
    other_processes_gib: float | None = Field(
        default=None, ge=0,
        description="Memory other processes (desktop, Ollama) hold when vLLM starts; None = assumed for the card.",
    )  # fmt: skip
    vllm_version: str | None = Field(
        default=None, description="e.g. '0.11.0' or an image tag; None = unknown, the worst version is assumed."
    )

    @model_validator(mode="after")
    def _heads_divide(self) -> SizingRequest:
        if self.arch.num_attention_heads % self.tensor_parallel_size:
            raise ValueError(
                f"tensor_parallel_size {self.tensor_parallel_size} must divide the model's "
                f"{self.arch.num_attention_heads} attention heads"
            )
        return self


class SizingResult(BaseModel):
    """The arithmetic, every intermediate figure, and a plain-words account of it."""

    model_name: str
    gpu_memory_gib: float
    gpu_memory_utilization: float
    max_model_len: int
    tensor_parallel_size: int
    max_num_seqs: int
    max_num_batched_tokens: int
    budget_gib: float = Field(..., description="total * gpu_memory_utilization")
    weights_gib: float
    activation_peak_gib: float
    non_torch_gib: float
    kv_cache_gib: float
    kv_heads_per_gpu: int
    kv_dtype_bytes: int
    page_bytes: int = Field(..., description="One block of one layer.")
    kv_bytes_per_token: int = Field(..., description="All layers, one GPU.")
    num_blocks: int
    kv_cache_tokens: int
    max_concurrency: float = Field(..., description="Sequences of max_model_len that fit at once.")
    headroom_gib: float = Field(..., description="Memory outside the budget: total * (1 - utilization).")
    cuda_graph_estimate_gib: float
    kv_cache_tokens_low: int = Field(..., description="Conservative bound: central cache minus the reserve.")
    max_concurrency_low: float
    reserve: Reserve
    fits_expected: bool = Field(..., description="One sequence of max_model_len fits the central estimate.")
    fits: bool = Field(..., description="One sequence fits even the conservative bound and vLLM will start.")
    verdict: Literal["fits", "tight", "does_not_fit"]
    problems: list[str] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list, description="The arithmetic, one line per step.")


def batch_defaults(gpu_memory_gib: float, gpu_name: str, usage: str) -> tuple[int, int]:
    """vLLM's (max_num_batched_tokens, max_num_seqs) defaults (EngineArgs.get_batch_defaults)."""
    large = gpu_memory_gib >= 70 and "a100" not in gpu_name.lower()
    if large:
        return (8192 if usage == "serve" else 16384), 1024
    return (2048 if usage == "serve" else 8192), 256


def weight_bytes(arch: ArchFacts, quantization: str | None, dtype: str, tp: int) -> float:
    """Weights per GPU: linear layers at the quantized width, embeddings and LM head at 16 bits."""
    total = arch.params_b * 1e9
    dtype_bytes = 4 if dtype == "float32" else 2
    if quantization is None:
        return total * dtype_bytes / tp
    embeddings = arch.embedding_params
    linear = max(total - embeddings, 0.0)
    return (linear * _QUANT_LINEAR_BYTES[quantization] + embeddings * 2) / tp


def forward_bytes(arch: ArchFacts, tokens: int, tp: int) -> float:
    """Forward-pass peak of the profiling run: residual stream and normed hidden state (2 x hidden) and the
    MLP's gate/up projection and activation (3 x intermediate / TP), in 16 bits, for ``tokens`` tokens."""
    return tokens * (2 * arch.hidden_size + 3 * arch.intermediate_size / tp) * 2


def logits_bytes(arch: ArchFacts, tokens: int, seqs: int) -> float:
    """fp32 logits of the sampler warm-up: min(max_num_seqs, tokens) rows over the whole vocabulary."""
    return min(seqs, tokens) * arch.vocab_size * 4


def activation_bytes(arch: ArchFacts, tokens: int, seqs: int, tp: int) -> float:
    """Central estimate of the activation peak: the forward pass plus one copy of the logits."""
    return forward_bytes(arch, tokens, tp) + logits_bytes(arch, tokens, seqs)


def _batch(req: SizingRequest) -> tuple[int, int]:
    default_tokens, default_seqs = batch_defaults(req.gpu_memory_gib, req.gpu_name, req.usage)
    seqs = req.max_num_seqs or default_seqs
    if req.max_num_batched_tokens is not None:
        return req.max_num_batched_tokens, seqs
    if req.engine == "v0":
        # v0 profiles a whole max-length prompt unless it turns chunked prefill on (contexts > 32k).
        return (2048 if req.max_model_len > 32768 else max(req.max_model_len, 2048)), seqs
    return default_tokens, seqs


def size(req: SizingRequest) -> SizingResult:
    """Run vLLM's arithmetic for one model on one GPU configuration, with its conservative bound."""
    arch = req.arch
    tp = req.tensor_parallel_size
    tokens, seqs = _batch(req)
    weights = req.weights_gib * GiB if req.weights_gib else weight_bytes(arch, req.quantization, req.dtype, tp)
    forward, logits = forward_bytes(arch, tokens, tp), logits_bytes(arch, tokens, seqs)
    activation = forward + logits
    non_torch = (
        req.non_torch_gib
        if req.non_torch_gib is not None
        else _NON_TORCH_GIB + (_NON_TORCH_TP_EXTRA_GIB if tp > 1 else 0.0)
    ) * GiB
    budget = req.gpu_memory_gib * GiB * req.gpu_memory_utilization
    kv_memory = budget - weights - activation - non_torch

    kv_heads = max(1, arch.num_kv_heads // tp)
    kv_dtype_bytes = 1 if req.kv_cache_dtype.startswith("fp8") else (4 if req.dtype == "float32" else 2)
    page = 2 * req.block_size * kv_heads * arch.head_size * kv_dtype_bytes
    num_blocks = max(0, int(kv_memory // page // arch.num_layers))
    kv_tokens = num_blocks * req.block_size
    blocks_per_seq = math.ceil(req.max_model_len / req.block_size)
    concurrency = num_blocks / blocks_per_seq
    headroom = req.gpu_memory_gib * (1 - req.gpu_memory_utilization)
    cuda_graphs = 0.0 if req.enforce_eager else round(0.25 + 0.06 * arch.params_b / tp, 2)

    extra = reserve(
        gpu_memory_gib=req.gpu_memory_gib, gpu_name=req.gpu_name, other_processes_gib=req.other_processes_gib,
        vllm_version=req.vllm_version, engine=req.engine, enforce_eager=req.enforce_eager,
        tensor_parallel_size=tp, cuda_graph_gib=cuda_graphs, forward_bytes=forward, logits_bytes=logits,
        non_torch_gib=non_torch / GiB,
    )  # fmt: skip
    kv_low = kv_memory - extra.total_gib * GiB
    blocks_low = max(0, int(kv_low // page // arch.num_layers))
    version = parse_version(req.vllm_version)
    checks_free = req.engine == "v1" and (version is None or version >= (0, 9))
    requested = req.gpu_memory_gib * req.gpu_memory_utilization
    refuses = checks_free and extra.startup_free_gib < requested

    problems = problems_for(req, budget, weights, activation, non_torch, kv_memory, num_blocks, blocks_per_seq,
                         kv_tokens, headroom, cuda_graphs, _CUDA_CONTEXT_GIB)  # fmt: skip
    if refuses:
        problems.append(
            f"vLLM refuses to start: about {extra.startup_free_gib:.2f} GiB is free when it starts "
            f"({req.gpu_memory_gib:.2f} GiB minus {extra.other_processes_gib:.2f} GiB held by other processes"
            + (" (assumed for a GeForce card)" if extra.other_processes_assumed else "")
            + f" and its own CUDA context) but --gpu-memory-utilization {req.gpu_memory_utilization:.2f} asks for "
            f"{requested:.2f} GiB -- lower it or free the GPU"
        )
    fits_expected = kv_memory > 0 and num_blocks >= blocks_per_seq
    fits = fits_expected and blocks_low >= blocks_per_seq and not refuses
    if fits_expected and not fits and not refuses:
        problems.append(
            f"tight: the central estimate holds {kv_tokens:,} tokens but the conservative bound only "
            f"{blocks_low * req.block_size:,} (minus {extra.total_gib:.2f} GiB: other processes "
            f"{extra.other_processes_charged_gib:.2f}, CUDA graphs {extra.cuda_graphs_charged_gib:.2f}, sampler "
            f"warm-up {extra.sampler_extra_gib:.2f}, spread {extra.spread_gib:.2f}) -- vLLM may refuse "
            f"{req.max_model_len} tokens; lower --max-model-len to {blocks_low * req.block_size} to be sure"
        )
    steps = steps_for(req, budget, weights, activation, non_torch, kv_memory, page, num_blocks, kv_tokens,
                   concurrency, tokens, seqs, kv_heads, kv_dtype_bytes)  # fmt: skip
    steps.append(
        f"conservative bound = {kv_memory / GiB:.2f} - {extra.total_gib:.2f} GiB reserve = {kv_low / GiB:.2f} GiB"
        f" -> {blocks_low * req.block_size:,} tokens, {blocks_low / blocks_per_seq:.2f}x"
    )
    return SizingResult(
        model_name=req.model_name,
        gpu_memory_gib=req.gpu_memory_gib,
        gpu_memory_utilization=req.gpu_memory_utilization,
        max_model_len=req.max_model_len,
        tensor_parallel_size=tp,
        max_num_seqs=seqs,
        max_num_batched_tokens=tokens,
        budget_gib=round(budget / GiB, 3),
        weights_gib=round(weights / GiB, 3),
        activation_peak_gib=round(activation / GiB, 3),
        non_torch_gib=round(non_torch / GiB, 3),
        kv_cache_gib=round(kv_memory / GiB, 3),
        kv_heads_per_gpu=kv_heads,
        kv_dtype_bytes=kv_dtype_bytes,
        page_bytes=page,
        kv_bytes_per_token=page // req.block_size * arch.num_layers,
        num_blocks=num_blocks,
        kv_cache_tokens=kv_tokens,
        max_concurrency=round(concurrency, 2),
        headroom_gib=round(headroom, 2),
        cuda_graph_estimate_gib=cuda_graphs,
        kv_cache_tokens_low=blocks_low * req.block_size,
        max_concurrency_low=round(blocks_low / blocks_per_seq, 2),
        reserve=extra,
        fits_expected=fits_expected,
        fits=fits,
        verdict="fits" if fits else ("tight" if fits_expected and not refuses else "does_not_fit"),
        problems=problems,
        steps=steps,
    )


def largest_fitting_len(req: SizingRequest, floor: int = 1024) -> int | None:
    """The longest max_model_len (multiple of the block size) that fits the conservative bound, or None."""
    result = size(req.model_copy(update={"max_model_len": floor}))
    if not result.fits:
        return None
    return max(floor, result.kv_cache_tokens_low // req.block_size * req.block_size)
