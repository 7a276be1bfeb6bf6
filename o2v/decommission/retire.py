"""The irreversible-looking part, made reversible: stop Ollama keeping its resources, write the final compose
files, and measure what the GPU got back."""

from __future__ import annotations

from pathlib import Path

from o2v.decommission.final_compose import write_final_compose
from o2v.decommission.models import GpuFreed, KeptResources
from o2v.decommission.ollama_host import OllamaHost
from o2v.gpu.models import DeviceSnapshot
from o2v.gpu.nvml import NVMLSource

KEPT_STATE = "decommission.kept:{}"


def used_mib(snapshot: DeviceSnapshot) -> tuple[float, float]:
    """(memory used on every GPU, memory NVML lists for Ollama's processes)."""
    used = sum(g.used_memory_mib for g in snapshot.gpus)
    ollama = sum(p.used_memory_mib or 0.0 for g in snapshot.gpus for p in g.processes if p.is_ollama)
    return used, ollama


def stop_and_measure(ollama: OllamaHost, gpu: NVMLSource) -> tuple[KeptResources, GpuFreed]:
    before = gpu.snapshot()
    kept = ollama.stop()
    after = gpu.snapshot()
    used_before, ollama_before = used_mib(before)
    used_after, _ = used_mib(after)
    source = before.source + (f" (no reading: {before.error})" if before.error else "")
    freed = GpuFreed(source=source, used_before_mib=used_before, used_after_mib=used_after,
                     ollama_before_mib=ollama_before)  # fmt: skip
    return kept, freed


def final_compose(workdir: Path, migration_id: str) -> list[Path]:
    reports = Path(workdir) / "reports" / migration_id
    return write_final_compose(reports / "compose", reports / "compose-final", migration_id=migration_id)
