"""What vLLM's start-up can charge to the KV cache beyond the central estimate, so "fits" is never optimistic.

The central estimate in ``sizing.py`` matches what vLLM usually prints (within 10% on published logs). It can
still say "fits" where vLLM refuses, because some memory is measured at start-up and depends on the vLLM
version, the card and what else runs on it. Each term below is taken from vLLM's memory profiling code or
from published measurements (sources in docs/planning.md):

* **other processes** (desktop compositor, browser, Ollama). vLLM V1 before 0.9 counted every byte in use on
  the device that PyTorch did not allocate as its own "non-torch" memory (``total - free - torch``), so
  they shrank the cache byte for byte. From 0.9 on, vLLM snapshots free memory at start and refuses to start
  when ``free < utilization x total`` ("Free memory on device ... on startup is less than desired GPU memory
  utilization"). A GeForce card that drives a display holds 0.4-1.25 GiB for the desktop in published
  ``nvidia-smi`` tables; when the caller does not know, 1.25 GiB is assumed on GeForce cards, 0 elsewhere.
* **CUDA graphs**: captured after the cache before vLLM 0.21, charged to the budget since
  (``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS`` defaults to on). With tensor parallelism on GeForce cards
  graph capture took 4.6x what the same model and flags took on a data-centre card (vllm#11452); GeForce cards
  lack P2P, and vLLM's custom all-reduce needs it.
* **sampler warm-up**: the profiling pass ends with a dummy sampling step over ``min(max_num_seqs, tokens)``
  rows of fp32 logits; top-k/top-p sorting keeps values, int64 indices, probabilities and their cumulative sum
  alive together, about 7 copies. The peak is the larger of that and the forward pass.
* **activation and non-torch spread**: vLLM 0.6.4 and later measure PyTorch's allocated peak, which ran up to
  3.5% above the shapes' arithmetic; earlier versions measured the drop in free memory, allocator slack
  included, which ran 19% above it (RTX 3090, Mistral 7B, 32k). Non-torch memory reached 0.35 GiB where the
  central estimate takes 0.25 GiB.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

GiB = 1024**3
# Largest desktop share in published nvidia-smi tables of twin GeForce cards (display card minus its twin).
GEFORCE_DESKTOP_GIB = 1.25
# vLLM's own CUDA context and allocator state before its start-up snapshot (published: 0.63 GiB on a 3090).
STARTUP_CONTEXT_GIB = 0.63
_SAMPLER_COPIES = 7
_ACTIVATION_SPREAD = 0.20
_NON_TORCH_HIGH_GIB = 0.35
# Graph capture with TP on GeForce cards vs a data-centre card, same model and flags (vllm#11452: 6.56 vs 1.43).
_GEFORCE_TP_GRAPH_FACTOR = 4.6


def is_geforce(gpu_name: str) -> bool:
    """Consumer cards: usually drive a display, and talk to each other over PCIe without P2P."""
    name = gpu_name.lower()
    return "geforce" in name or "titan" in name


def parse_version(version: str | None) -> tuple[int, int] | None:
    """'0.11.0', 'v0.9.2', 'vllm/vllm-openai:v0.8.5' -> (0, 11); None when no version can be read."""
    if not version:
        return None
    match = re.search(r"(\d+)\.(\d+)", version.rsplit(":", 1)[-1])
    return (int(match.group(1)), int(match.group(2))) if match else None


class Reserve(BaseModel):
    """Memory the conservative bound takes off the central KV estimate, term by term (GiB)."""

    other_processes_gib: float = Field(..., description="Held by other processes when vLLM starts.")
    other_processes_assumed: bool = Field(..., description="True when not measured but assumed for the card.")
    other_processes_charged_gib: float = Field(..., description="Part of it charged to the KV cache.")
    cuda_graphs_charged_gib: float = Field(..., description="CUDA graph memory charged to the budget.")
    sampler_extra_gib: float = Field(..., description="Sampler warm-up peak beyond the forward-pass estimate.")
    spread_gib: float = Field(..., description="Activation and non-torch spread seen in published logs.")
    startup_free_gib: float = Field(..., description="Free memory vLLM sees at its start-up snapshot.")

    @property
    def total_gib(self) -> float:
        return (
            self.other_processes_charged_gib + self.cuda_graphs_charged_gib + self.sampler_extra_gib + self.spread_gib
        )


def reserve(
    *,
    gpu_memory_gib: float,
    gpu_name: str,
    other_processes_gib: float | None,
    vllm_version: str | None,
    engine: str,
    enforce_eager: bool,
    tensor_parallel_size: int,
    cuda_graph_gib: float,
    forward_bytes: float,
    logits_bytes: float,
    non_torch_gib: float,
) -> Reserve:
    """The conservative terms for one configuration; an unknown version takes the worst single version's."""
    version = parse_version(vllm_version)
    assumed = other_processes_gib is None
    if other_processes_gib is None:
        other = GEFORCE_DESKTOP_GIB if is_geforce(gpu_name) else 0.0
    else:
        other = other_processes_gib
    v1 = engine == "v1"
    charges_others = v1 and (version is None or version < (0, 9))
    graphs_in_budget = v1 and not enforce_eager and (version is None or version >= (0, 21))
    graphs = cuda_graph_gib * (_GEFORCE_TP_GRAPH_FACTOR if tensor_parallel_size > 1 and is_geforce(gpu_name) else 1)
    if charges_others and graphs_in_budget:
        # Unknown version: no single vLLM charges both (others before 0.9, graphs from 0.21); take the larger.
        charges_others, graphs_in_budget = other >= graphs, other < graphs
    forward = forward_bytes + logits_bytes
    sampler_extra = max(0.0, _SAMPLER_COPIES * logits_bytes - forward) / GiB
    spread = _ACTIVATION_SPREAD * forward / GiB + max(0.0, _NON_TORCH_HIGH_GIB - non_torch_gib)
    return Reserve(
        other_processes_gib=round(other, 3),
        other_processes_assumed=assumed,
        other_processes_charged_gib=round(other if charges_others else 0.0, 3),
        cuda_graphs_charged_gib=round(graphs if graphs_in_budget else 0.0, 3),
        sampler_extra_gib=round(sampler_extra, 3),
        spread_gib=round(spread, 3),
        startup_free_gib=round(gpu_memory_gib - other - STARTUP_CONTEXT_GIB, 3),
    )
