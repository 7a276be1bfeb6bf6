"""How big the simulated vLLM's KV cache is, and whether ``max_model_len`` fits in it at all.

vLLM v1 sizes its paged cache once, at start-up (``gpu_worker.determine_available_memory`` and
``kv_cache_utils``): the memory left inside ``total * gpu_memory_utilization`` once the weights, the
profiling pass's activation peak and the non-torch allocations are counted is cut into blocks of
``block_size`` (16) tokens.  If one request of ``max_model_len`` tokens would not fit, the engine core
refuses to start with a ``ValueError`` naming both sizes, and ``vllm serve`` exits non-zero.

The simulator cannot measure a GPU, so three flags describe the device and the model instead:
``--gpu-memory-gib`` (total memory of one GPU), ``--model-memory-gib`` (what the model holds outside the
cache) and ``--kv-bytes-per-token`` (K and V of every layer).  The defaults describe the simulator's
default model, Llama 3.1 8B at 16 bits.  Without ``--gpu-memory-gib`` the cache holds
``--kv-cache-tokens`` tokens, as before; ``--num-gpu-blocks-override`` (a real vLLM flag) sets the block
count directly, after the memory check, as vLLM does.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

GiB = 1 << 30
DEFAULT_BLOCK_SIZE = 16
# Llama 3.1 8B: 32 layers * (K + V) * 8 KV heads * head size 128 * 2 bytes.
LLAMA_8B_KV_BYTES_PER_TOKEN = 32 * 2 * 8 * 128 * 2
# Llama 3.1 8B at bf16: "Model loading took 14.99 GiB", plus about 1.2 GiB for the profiling pass's
# activation peak and 0.25 GiB of non-torch memory (o2v.plan.sizing estimates the same terms).
LLAMA_8B_MODEL_GIB = 16.5
CONSERVING_MEMORY_URL = "https://docs.vllm.ai/en/latest/configuration/conserving_memory/"


class KVCacheTooSmall(Exception):
    """vLLM's start-up refusal; the message is vLLM's own text."""


@dataclass(frozen=True)
class KVCacheSize:
    num_blocks: int
    block_size: int
    bytes_per_token: int  # one GPU, every layer
    available_bytes: int  # the memory the blocks were cut from

    @property
    def tokens(self) -> int:
        return self.num_blocks * self.block_size

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def max_concurrency(self, max_model_len: int) -> float:
        return self.num_blocks / self.blocks_for(max_model_len)


def _gib(value: int) -> str:
    return f"{value / GiB:.2f}"


def _bytes_per_token(args: argparse.Namespace) -> int:
    """K and V of every layer on ONE GPU: tensor parallelism splits the heads, fp8 halves each value."""
    per_token = args.kv_bytes_per_token // max(1, args.tensor_parallel_size)
    if str(args.kv_cache_dtype or "auto").startswith("fp8"):
        per_token //= 2
    return max(1, per_token)


def size_kv_cache(args: argparse.Namespace) -> KVCacheSize:
    """The cache vLLM would allocate for these flags; raises :class:`KVCacheTooSmall` where vLLM refuses."""
    block_size = args.block_size or DEFAULT_BLOCK_SIZE
    per_token = _bytes_per_token(args)
    page = block_size * per_token
    if args.gpu_memory_gib is not None:
        budget = args.gpu_memory_gib * args.gpu_memory_utilization
        held = args.model_memory_gib / max(1, args.tensor_parallel_size)
        available = int((budget - held) * GiB)
    else:
        available = args.kv_cache_tokens // block_size * page
    if available <= 0:
        raise KVCacheTooSmall(
            "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
            f"initializing the engine. See {CONSERVING_MEMORY_URL} for more details."
        )
    max_len = args.max_model_len
    needed = -(-max_len // block_size) * page
    if needed > available:
        estimate = min(max_len, available // page * block_size)
        estimated = (
            f"Based on the available memory, the estimated maximum model length is {estimate}. " if estimate else ""
        )
        raise KVCacheTooSmall(
            f"To serve at least one request with the models's max seq len ({max_len}), ({_gib(needed)} GiB KV "
            f"cache is needed, which is larger than the available KV cache memory ({_gib(available)} GiB). "
            f"{estimated}Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
            f"initializing the engine. See {CONSERVING_MEMORY_URL} for more details."
        )
    num_blocks = available // page
    if args.num_gpu_blocks_override is not None:
        num_blocks = args.num_gpu_blocks_override
    return KVCacheSize(num_blocks, block_size, per_token, available)
