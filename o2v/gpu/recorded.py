"""The recorded GPU the rehearsals verify against (o2v/data/rehearsal-gpu.json): a real card's NVML reading,
so the GPU phase and the simulated vLLM's KV-cache sizing see what a real machine would report."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path


def recorded_gpu_path() -> Path:
    return Path(str(resources.files("o2v") / "data" / "rehearsal-gpu.json"))


def recorded_gpu_memory_gib(path: Path) -> float:
    """Total memory of the recorded GPU, so the simulated vLLM sizes its KV cache for that card and refuses to
    start, as vLLM would, when the plan's ``max_model_len`` does not fit it."""
    devices = json.loads(path.read_text())["gpus"]
    return round(min(d["total_memory_mib"] for d in devices) / 1024, 2)
