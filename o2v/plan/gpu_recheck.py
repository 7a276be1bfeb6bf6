"""A fresh GPU reading right before deploy, against what the plan reserved.

Why: ``verify_gpu`` and ``plan`` may be skipped on a re-run (the ledger has them), so the GPU reading the plan
was sized from can be hours or days old. Meanwhile Ollama may have loaded a second model, another job may
hold memory, or the host may have another card. vLLM takes ``gpu_memory_utilization`` x total memory at start
and fails (or pushes Ollama out) when that much is not free, so the deploy phase reads NVML again and stops
with a plain message when the plan no longer fits, before anything is started.

A vLLM of this migration that is already running (the deploy keeps it, or replaces it when the plan changed)
holds its share already, and NVML cannot always say how much is its own (containerised drivers hide per-process
memory): then only the cards' identity is checked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from o2v.config import Settings
from o2v.errors import GateFailed
from o2v.gpu import NVMLSource, source_from_settings
from o2v.plan.make import SHARED_MARGIN_GIB
from o2v.plan.types import MigrationPlan
from o2v.store_schema import utcnow

# A card counts as the one planned for when its name matches and its memory is within this much.
SAME_CARD_TOLERANCE_GIB = 1.0


class GPUFit(BaseModel):
    index: int
    name: str
    free_gib: float
    total_gib: float


class GPURecheck(BaseModel):
    """What the deploy phase saw on the GPUs just before starting vLLM."""

    checked_at: datetime = Field(default_factory=utcnow)
    source: str = Field(..., description="'nvml' or the recorded description's path.")
    needs_gib: float = Field(..., description="Free memory needed per GPU: vLLM share + keep-free + margin.")
    gpus: list[GPUFit] = Field(default_factory=list)
    verdict: Literal["fits", "vllm-running"]
    violations: list[str] = Field(default_factory=list)

    def figures(self) -> dict[str, str]:
        free = ", ".join(f"GPU {g.index}: {g.free_gib:.1f} GiB free" for g in self.gpus) or "-"
        return {"GPU re-checked": f"{self.checked_at:%H:%M:%S} UTC, {free}; plan needs {self.needs_gib:.1f} GiB"}


def recheck_gpu(
    settings: Settings, plan: MigrationPlan, *, nvml: NVMLSource | None = None, vllm_running: bool = False
) -> GPURecheck:
    """Read the GPUs now; raise GateFailed listing every way the plan no longer fits."""
    snapshot = (nvml or source_from_settings(settings)).snapshot()
    spec = plan.launch_spec()
    needs = (spec.expected_vram_gib or 0.0) + settings.gpu.min_free_gib + SHARED_MARGIN_GIB
    result = GPURecheck(
        source=snapshot.source, needs_gib=round(needs, 2), verdict="vllm-running" if vllm_running else "fits"
    )
    violations = result.violations
    if snapshot.error:
        violations.append(f"no usable NVIDIA GPU right before deploy: {snapshot.error}")
    by_index = {g.index: g for g in snapshot.gpus}
    for device in plan.gpu_device_ids:
        gpu = by_index.get(int(device)) if device.isdigit() else None
        if gpu is None:
            if not snapshot.error:
                violations.append(f"GPU {device} the plan uses is gone (the host has {sorted(by_index)})")
            continue
        result.gpus.append(GPUFit(index=gpu.index, name=gpu.name, free_gib=round(gpu.free_gib, 2),
                                  total_gib=round(gpu.total_gib, 2)))
        if gpu.name != plan.gpu_name or abs(gpu.total_gib - plan.gpu_total_gib) > SAME_CARD_TOLERANCE_GIB:
            violations.append(
                f"GPU {gpu.index} is now {gpu.name} with {gpu.total_gib:.1f} GiB, but the plan was made for "
                f"{plan.gpu_name} with {plan.gpu_total_gib:.1f} GiB"
            )
        elif not vllm_running and gpu.free_gib < needs:
            violations.append(
                f"GPU {gpu.index} ({gpu.name}) has {gpu.free_gib:.1f} GiB free now, but the plan needs {needs:.1f} GiB "
                f"(vLLM's share {spec.expected_vram_gib or 0:.1f} + keep-free {settings.gpu.min_free_gib:.1f} + "
                f"margin {SHARED_MARGIN_GIB:.1f}); when the plan was made {plan.gpu_free_gib:.1f} GiB were free and "
                f"Ollama held {plan.ollama_vram_gib:.1f} GiB"
            )
    if violations:
        raise GateFailed(
            "GPU re-check before deploy",
            violations + [
                "nothing was started; free the memory (e.g. unload Ollama models with keep_alive 0) or re-plan "
                "for what is free now: re-run with from_phase=verify_gpu"
            ],
        )
    return result
