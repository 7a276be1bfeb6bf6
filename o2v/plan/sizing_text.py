"""The words around the sizing arithmetic: its problems and its steps, one line each, for the plan and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from o2v.plan.sizing import SizingRequest

GiB = 1024**3


def problems_for(
    req: SizingRequest, budget: float, weights: float, activation: float, non_torch: float, kv_memory: float,
    num_blocks: int, blocks_per_seq: int, kv_tokens: int, headroom: float, cuda_graphs: float, context_gib: float,
) -> list[str]:  # fmt: skip
    problems: list[str] = []
    if kv_memory <= 0:
        problems.append(
            f"no memory left for the KV cache: budget {budget / GiB:.2f} GiB minus weights "
            f"{weights / GiB:.2f}, "
            f"activations {activation / GiB:.2f} and non-torch {non_torch / GiB:.2f} GiB is "
            f"{kv_memory / GiB:.2f} GiB"
            " -- raise --gpu-memory-utilization, use a quantized variant (AWQ/GPTQ/FP8) or more GPUs"
        )
    elif num_blocks < blocks_per_seq:
        problems.append(
            f"one sequence of {req.max_model_len} tokens needs {blocks_per_seq} blocks but only "
            f"{num_blocks} fit "
            f"({kv_tokens} tokens) -- lower --max-model-len to at most {kv_tokens} or free memory"
        )
    if headroom < context_gib + cuda_graphs:
        problems.append(
            f"only {headroom:.2f} GiB stays outside the budget but the CUDA context and CUDA "
            "graphs need about "
            f"{context_gib + cuda_graphs:.2f} GiB -- lower --gpu-memory-utilization or add "
            "--enforce-eager"
        )
    return problems


def steps_for(
    req: SizingRequest, budget: float, weights: float, activation: float, non_torch: float, kv_memory: float,
    page: int, num_blocks: int, kv_tokens: int, concurrency: float, tokens: int, seqs: int, kv_heads: int,
    kv_dtype_bytes: int,
) -> list[str]:  # fmt: skip
    arch, tp = req.arch, req.tensor_parallel_size
    return [
        f"budget = {req.gpu_memory_gib:.2f} GiB x {req.gpu_memory_utilization:.2f} = {budget / GiB:.2f} GiB",
        f"weights = {arch.params_b:.3f} B params"
        + (f" ({req.quantization})" if req.quantization else f" x {4 if req.dtype == 'float32' else 2} bytes")
        + (f" / TP {tp}" if tp > 1 else "")
        + f" = {weights / GiB:.2f} GiB",
        f"activations = {tokens} batched tokens x (2 x {arch.hidden_size} + 3 x "
        f"{arch.intermediate_size}/{tp}) x 2 B"
        f" + {min(seqs, tokens)} seqs x {arch.vocab_size} vocab x 4 B = {activation / GiB:.2f} GiB",
        f"non-torch memory = {non_torch / GiB:.2f} GiB",
        f"KV cache = {budget / GiB:.2f} - {weights / GiB:.2f} - {activation / GiB:.2f} - "
        f"{non_torch / GiB:.2f}"
        f" = {kv_memory / GiB:.2f} GiB",
        f"page = 2 x {req.block_size} x {kv_heads} KV heads/GPU x {arch.head_size} x "
        f"{kv_dtype_bytes} B = {page} B"
        f"; x {arch.num_layers} layers = {page * arch.num_layers} B per block",
        f"blocks = {max(kv_memory, 0) / GiB:.2f} GiB // {page * arch.num_layers} B = {num_blocks}"
        f" -> {kv_tokens:,} tokens",
        f"max concurrency = {num_blocks} / ceil({req.max_model_len} / {req.block_size}) = {concurrency:.2f}x",
    ]
