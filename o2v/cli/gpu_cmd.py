"""``o2v gpu``: what the GPU host has against what vLLM needs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from o2v.cli.app import ConfigOption, app, console, settings_or_exit


@app.command("gpu")
def gpu(
    config: ConfigOption = None,
    recorded: Annotated[Path | None, typer.Option(help="Use a recorded device description (JSON).")] = None,
    record_to: Annotated[Path | None, typer.Option("--record", help="Save what NVML saw to this JSON file.")] = None,
    required_gib: Annotated[float | None, typer.Option(help="Free memory vLLM needs per GPU, GiB.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Verify GPUs (NVML) and Docker's NVIDIA runtime; exit 1 listing every violation."""
    from o2v.gpu import RealNVML, RecordedNVML, record, verify_gpu

    settings = settings_or_exit(config)
    source = RecordedNVML(recorded) if recorded else None
    report = verify_gpu(settings, required_vram_gib=required_gib, nvml=source or None)
    if record_to is not None and report.snapshot.error is None:
        record((source or RealNVML()).snapshot(), record_to)
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        snap = report.snapshot
        console.print(
            f"driver {snap.driver_version or '-'}, CUDA {snap.cuda_driver_version or '-'} ({snap.source})",
            highlight=False,
        )
        for g in snap.gpus:
            mark = "*" if g.index in report.selected_indices else " "
            console.print(
                f"{mark} GPU {g.index} {g.name}: compute {g.compute_capability}, {g.total_gib:.1f} GiB, "
                f"{g.free_gib:.1f} GiB free, Ollama {g.ollama_memory_mib / 1024:.1f} GiB, "
                f"{len(g.processes)} process(es)",
                highlight=False,
                markup=False,
            )
        if report.docker is not None:
            d = report.docker
            console.print(
                f"docker: {'runtimes ' + ', '.join(d.runtimes) if d.engine_reachable else d.error}",
                highlight=False,
                markup=False,
            )
        for note in report.notes:
            console.print(f"note: {note}", highlight=False, markup=False)
        console.print(f"verdict: {report.verdict}", highlight=False)
        for v in report.violations:
            console.print(f"  - {v}", highlight=False, markup=False, soft_wrap=True)
    if report.verdict != "pass":
        raise typer.Exit(1)
