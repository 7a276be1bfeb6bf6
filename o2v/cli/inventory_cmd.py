"""``o2v inventory``: models, settings and every client of the Ollama being migrated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from o2v.cli.app import ConfigOption, app, console, settings_or_exit


@app.command("inventory")
def inventory(
    config: ConfigOption = None,
    scan: Annotated[list[Path] | None, typer.Option("--scan", help="Source tree to scan (repeatable).")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the inventory as JSON here.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Where Markdown and CSV go (default: workdir/inventory).")
    ] = None,
    log: Annotated[Path | None, typer.Option(help="Read Ollama's log from this file ('-' = stdin).")] = None,
) -> None:
    """Ask Ollama (/api/tags, /api/show, /api/ps), read its settings and log, scan source trees."""
    from o2v.inventory import take_inventory, write_reports

    settings = settings_or_exit(config)
    records = None
    if log is not None:
        from o2v.servers.logs import read_log

        records = list(read_log(str(log)))
    inv = take_inventory(settings, scan_paths=scan or [], log_records=records)
    target = out_dir or settings.workdir / "inventory"
    paths = write_reports(inv, target)
    if json_file is not None:
        json_file.write_text(inv.model_dump_json(indent=2), encoding="utf-8")
        paths.append(json_file)
    loaded = {m.name for m in inv.loaded}
    console.print(
        f"Ollama {inv.ollama_version or '?'} at {inv.ollama_url}: {len(inv.models)} model(s)", highlight=False
    )
    for m in inv.models:
        flag = " (loaded)" if m.name in loaded else ""
        console.print(
            f"  {m.name}: {m.architecture or m.family} {m.parameter_size} {m.quantization_level}{flag}",
            highlight=False,
            markup=False,
        )
    native = sum(p.api == "native" for p in inv.integration_points)
    console.print(
        f"integration points: {len(inv.integration_points)} ({native} native, "
        f"{len(inv.integration_points) - native} OpenAI-compatible)",
        highlight=False,
    )
    for p in inv.integration_points:
        where = f"{p.file}:{p.line}" if p.cell is None else f"{p.file} cell {p.cell} line {p.line}"
        console.print(f"  {where} [{p.api}] {p.kind}", highlight=False, markup=False)
    console.print(f"clients in the access log: {len(inv.clients)}", highlight=False)
    for problem in inv.problems:
        console.print(f"not read: {problem}", highlight=False, markup=False, soft_wrap=True)
    console.print("written: " + ", ".join(str(p) for p in paths), highlight=False, markup=False)
