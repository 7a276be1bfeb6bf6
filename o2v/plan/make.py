"""Decide what vLLM will serve and with which flags, for the side-by-side period and after decommission.

The plan stops (GateFailed) with the reason and what to do when the GPU does not meet the requirements,
when the model to migrate has no vLLM mapping or an unsupported architecture, or when nothing fits.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlparse

from o2v.config import Settings
from o2v.errors import GateFailed
from o2v.gpu import GPUReport, verify_gpu
from o2v.inventory import Inventory
from o2v.plan.catalog import ArchFacts, candidates, lookup, lookup_by_name
from o2v.plan.registry import GGUF_EMBEDDING, hf_architecture_for_gguf, is_supported
from o2v.plan.reserve import STARTUP_CONTEXT_GIB
from o2v.plan.sizing import QuantMethod, SizingRequest, SizingResult, largest_fitting_len, size
from o2v.plan.types import MigrationPlan, ModelPlan, PeriodFlags

DEFAULT_OLLAMA_IMAGE = "ollama/ollama:0.12.3"
# Context to offer when Ollama shows nothing bigger: what the guide recommends for team use.
DEFAULT_CONTEXT = 8192
MIN_CONTEXT = 2048
# Memory the planned share leaves free on a shared GPU, beyond gpu.min_free_gib: vLLM's own CUDA context, which
# exists before vLLM compares free memory with utilization x total (and refuses to start when it is short).
SHARED_MARGIN_GIB = STARTUP_CONTEXT_GIB


def cuda_visible_gib(nvml_total_gib: float) -> float:
    """NVML's total minus what the driver reserves; vLLM's utilization multiplies the CUDA figure."""
    return nvml_total_gib - max(0.42, 0.011 * nvml_total_gib)


def map_models(settings: Settings, inventory: Inventory) -> list[ModelPlan]:
    """Every Ollama tag, mapped (config first, then catalog) or listed with candidates: none is dropped."""
    plans: list[ModelPlan] = []
    for model in inventory.models:
        tag = model.name
        hf_arch = hf_architecture_for_gguf(model.architecture) if model.architecture else None
        override = settings.models.get(tag) or settings.models.get(tag.removesuffix(":latest"))
        entry = lookup(tag)
        if override is not None:
            known = lookup_by_name(override.hf_repo)
            arch = known.arch.architecture if known else hf_arch
            plans.append(ModelPlan(
                ollama_tag=tag, source="config", hf_repo=override.hf_repo, quantization=override.quantization,
                gated=known.gated if known else False, architecture=arch,
                supported=is_supported(arch) if arch else None,
                note="" if known else "repository not in the catalog: gated status and size unknown",
            ))  # fmt: skip
        elif entry is not None:
            arch = entry.arch.architecture
            plans.append(
                ModelPlan(
                    ollama_tag=tag,
                    source="catalog",
                    hf_repo=entry.hf_repo,
                    gated=entry.gated,
                    architecture=arch,
                    supported=is_supported(arch),
                )
            )
        elif (model.architecture or "").lower() in GGUF_EMBEDDING or model.capabilities == ["embedding"]:
            plans.append(
                ModelPlan(
                    ollama_tag=tag,
                    source="embedding",
                    architecture=hf_arch,
                    note="embedding model: keep it on Ollama or serve it from a second vLLM "
                    "with --task embed; the chat migration does not move it",
                )
            )
        else:
            plans.append(ModelPlan(
                ollama_tag=tag, source="unknown", architecture=hf_arch,
                supported=is_supported(hf_arch) if hf_arch else None, candidates=candidates(tag),
                note=f"no known Hugging Face repository for {tag}: add it under models: in migration.yaml",
            ))  # fmt: skip
    return plans


def _primary(settings: Settings, inventory: Inventory, plans: list[ModelPlan]) -> ModelPlan | None:
    by_tag = {p.ollama_tag: p for p in plans}
    for tag in settings.models:
        for candidate in (tag, f"{tag}:latest"):
            if candidate in by_tag:
                return by_tag[candidate]
    for loaded in inventory.loaded:
        if loaded.name in by_tag and by_tag[loaded.name].source != "embedding":
            return by_tag[loaded.name]
    chat = [p for p in plans if p.source != "embedding"]
    return chat[0] if chat else None


def _desired_context(settings: Settings, inventory: Inventory, tag: str, arch: ArchFacts) -> int:
    if settings.vllm.max_model_len:
        return min(settings.vllm.max_model_len, arch.max_position_embeddings)
    seen = [m.context_length or 0 for m in inventory.loaded if m.name == tag]
    seen += [m.num_ctx or 0 for m in inventory.models if m.name == tag]
    seen.append(inventory.settings.get_int("OLLAMA_CONTEXT_LENGTH") or 0)
    return min(max([DEFAULT_CONTEXT, *seen]), arch.max_position_embeddings)


def _choose_seqs(settings: Settings, result: SizingResult, target: int, typical_len: int) -> tuple[int, str]:
    if settings.vllm.max_num_seqs:
        return settings.vllm.max_num_seqs, f"max_num_seqs {settings.vllm.max_num_seqs} set in migration.yaml"
    by_memory = max(1, result.kv_cache_tokens // typical_len)
    seqs = max(1, min(256, max(target, 1), by_memory))
    return seqs, (
        f"max_num_seqs = min(256, target concurrency {target}, {result.kv_cache_tokens:,} KV tokens // "
        f"{typical_len} tokens per typical request = {by_memory}) = {seqs}"
    )


def make_plan(
    settings: Settings, inventory: Inventory, gpu_report: GPUReport | None = None, workload: Any | None = None
) -> MigrationPlan:
    """Map, check, size and choose flags; raises GateFailed listing every blocking reason."""
    report = gpu_report or verify_gpu(settings)
    blocking: list[str] = []
    if report.violations:
        blocking += report.violations
    plans = map_models(settings, inventory)
    primary = _primary(settings, inventory, plans)
    if primary is None:
        blocking.append("Ollama serves no chat model to migrate -- pull one into Ollama or list it under models:")
    elif primary.hf_repo is None:
        cands = ", ".join(primary.candidates) or "none in the catalog"
        blocking.append(
            f"{primary.ollama_tag} has no vLLM mapping (candidates: {cands}) -- add "
            f"models: {{'{primary.ollama_tag}': {{hf_repo: ORG/NAME}}}} to migration.yaml"
        )
    elif primary.supported is False:
        blocking.append(
            f"{primary.ollama_tag} -> {primary.hf_repo} is a {primary.architecture}, which vLLM does "
            "not support -- map it to a model with a supported architecture (Llama, Qwen2, Mistral, "
            "Gemma2, Phi3, ...)"
        )
    entry = lookup_by_name(primary.hf_repo) if primary and primary.hf_repo else None
    if primary is not None and primary.hf_repo and entry is None:
        blocking.append(
            f"{primary.hf_repo} is not in the built-in catalog, so its size is unknown -- use a "
            "catalog model or size it with: o2v plan size --model path/to/config.json"
        )
    selected = report.selected
    if not selected and not report.violations:
        blocking.append("no GPU selected by gpu.device_indices was found")
    if blocking:
        raise GateFailed("plan", blocking)
    assert primary is not None
    assert entry is not None
    gpu = min(selected, key=lambda g: g.free_gib)
    total = min(g.total_gib for g in selected)
    cuda_total = cuda_visible_gib(total)
    tp = settings.vllm.tensor_parallel_size
    dtype = settings.vllm.dtype
    if dtype == "auto" and gpu.compute_capability_value < 8.0:
        dtype = "float16"  # no bfloat16 below Ampere
    target = max(getattr(workload, "concurrency", None) or settings.loadtest.concurrency)
    max_tokens = getattr(workload, "max_tokens", None) or settings.loadtest.max_tokens

    free_for_vllm = gpu.free_gib - settings.gpu.min_free_gib - SHARED_MARGIN_GIB
    util_after = settings.vllm.gpu_memory_utilization
    util_side = math.floor(min(util_after, free_for_vllm / cuda_total) * 100) / 100
    desired = _desired_context(settings, inventory, primary.ollama_tag, entry.arch)
    notes: list[str] = []

    # What other processes hold when vLLM starts: everything in use now (Ollama included) while side by side,
    # everything but Ollama once it is gone (a desktop, other services). Measured, so nothing is assumed.
    held_now = max(0.0, cuda_total - gpu.free_gib)
    others = {"side_by_side": held_now, "after_decommission": max(0.0, held_now - report.ollama_vram_gib)}

    def request(util: float, length: int, quant: QuantMethod | None, period: str = "side_by_side") -> SizingRequest:
        return SizingRequest(
            model_name=entry.variants.get(quant, entry.hf_repo) if quant else entry.hf_repo, arch=entry.arch,
            gpu_memory_gib=cuda_total, gpu_name=gpu.name, gpu_memory_utilization=max(util, 0.01),
            max_model_len=length, tensor_parallel_size=tp, dtype=dtype, quantization=quant,
            kv_cache_dtype=settings.vllm.kv_cache_dtype, enforce_eager=settings.vllm.enforce_eager,
            other_processes_gib=round(others[period], 3), vllm_version=settings.vllm.image,
        )  # fmt: skip

    if primary.quantization:
        options: list[QuantMethod | None] = [primary.quantization]  # type: ignore[list-item]
    else:
        options = [None] + [q for q in ("fp8", "awq", "gptq") if q in entry.variants]  # type: ignore[misc]
    chosen: tuple[QuantMethod | None, int] | None = None
    for quant in options:
        if util_side <= 0:
            break
        if size(request(util_side, desired, quant)).fits:
            chosen = (quant, desired)
            break
        fitting = largest_fitting_len(request(util_side, desired, quant), floor=MIN_CONTEXT)
        if fitting is not None and chosen is None:
            chosen = (quant, min(desired, fitting // 1024 * 1024 or fitting))
    if chosen is None:
        raise GateFailed("plan", [
            f"{entry.hf_repo} does not fit next to Ollama on GPU {gpu.index} ({gpu.name}): {gpu.free_gib:.1f} GiB "
            f"free of {total:.1f} GiB, Ollama holds {report.ollama_vram_gib:.1f} GiB, even quantized and at "
            f"{MIN_CONTEXT} tokens -- unload Ollama's other models (keep_alive 0), run vLLM on another GPU "
            "(gpu.device_indices), or map a smaller model"
        ])  # fmt: skip
    quant, length = chosen
    if quant and not primary.quantization:
        primary = primary.model_copy(update={"quantization": quant, "hf_repo": entry.variants[quant]})
        notes.append(
            f"{entry.hf_repo} does not fit next to Ollama at {desired} tokens: using the {quant.upper()} "
            f"variant {entry.variants[quant]}"
        )
    if length < desired:
        notes.append(f"max_model_len lowered from {desired} to {length} so one full-length request fits")

    typical = min(length, 1024 + max_tokens)
    periods: list[PeriodFlags] = []
    for period, util in (("side_by_side", util_side), ("after_decommission", util_after)):
        result = size(request(util, length, quant, period))
        seqs, why = _choose_seqs(settings, result, target, typical)
        reasoning = [
            f"gpu_memory_utilization {util:.2f}: "
            + (f"free {gpu.free_gib:.2f} GiB - keep-free {settings.gpu.min_free_gib:.2f} - margin "
               f"{SHARED_MARGIN_GIB} = {free_for_vllm:.2f} GiB of {cuda_total:.2f} GiB (capped at {util_after:.2f})"
               if period == "side_by_side" else "vllm.gpu_memory_utilization once Ollama is gone"),
            f"max_model_len {length}: largest context Ollama was seen using, at least {DEFAULT_CONTEXT}, "
            f"capped by the model's {entry.arch.max_position_embeddings}",
            why,
            f"fits: {result.verdict} -- vLLM should report about {result.kv_cache_tokens:,} KV tokens "
            f"({result.max_concurrency:.2f}x); the conservative bound holds {result.kv_cache_tokens_low:,} "
            f"({result.max_concurrency_low:.2f}x) after {result.reserve.total_gib:.2f} GiB for what start-up may "
            f"also charge (other processes {result.reserve.other_processes_gib:.2f} GiB measured)",
        ]  # fmt: skip
        periods.append(
            PeriodFlags(
                period=period,
                gpu_memory_utilization=util,
                max_model_len=length,  # type: ignore[arg-type]
                max_num_seqs=seqs,
                sizing=result,
                reasoning=reasoning,
            )
        )
    for flags in periods:
        notes += [f"{flags.period}: {p}" for p in flags.sizing.problems]

    served = [
        settings.models[primary.ollama_tag].served_name or primary.ollama_tag
        if primary.ollama_tag in settings.models
        else primary.ollama_tag
    ]
    unknown = [p for p in plans if p.source == "unknown"]
    for p in unknown:
        notes.append(f"{p.ollama_tag}: {p.note} (candidates: {', '.join(p.candidates) or 'none'})")
    return MigrationPlan(
        migration_id=settings.migration_id, image=settings.vllm.image,
        ollama_image=f"ollama/ollama:{inventory.ollama_version}" if inventory.ollama_version else DEFAULT_OLLAMA_IMAGE,
        backend=settings.vllm.backend, container_name=settings.vllm.container_name, host=settings.vllm.host,
        port=settings.vllm.port, hf_cache_dir=str(settings.vllm.hf_cache_dir), shm_size=settings.vllm.shm_size,
        command_prefix=list(settings.vllm.command), gpu_device_ids=[str(i) for i in settings.gpu.device_indices],
        gpu_name=gpu.name, gpu_total_gib=round(total, 2), gpu_cuda_total_gib=round(cuda_total, 2),
        gpu_free_gib=round(gpu.free_gib, 2), ollama_vram_gib=report.ollama_vram_gib, models=plans, primary=primary,
        arch=entry.arch, served_model_names=served, tensor_parallel_size=tp, dtype=dtype,
        kv_cache_dtype=settings.vllm.kv_cache_dtype, enforce_eager=settings.vllm.enforce_eager,
        extra_args=list(settings.vllm.extra_args), api_key_required=settings.vllm.api_key is not None,
        health_timeout_s=settings.vllm.health_timeout_s, target_concurrency=target,
        side_by_side=periods[0], after_decommission=periods[1], notes=notes,
        ollama_host=urlparse(settings.ollama.url).hostname or "127.0.0.1",
    )  # fmt: skip
