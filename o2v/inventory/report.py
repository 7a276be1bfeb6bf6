"""The inventory as a Markdown artifact and CSV files, for humans and spreadsheets."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

from o2v.redact import redact, redact_data

if TYPE_CHECKING:  # Inventory.to_markdown calls this module: a runtime import back would close a circle
    from o2v.inventory.types import Inventory


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f}" if n else ""


def to_markdown(inv: Inventory) -> str:
    loaded = {m.name: m for m in inv.loaded}
    out = [
        f"# Ollama inventory ({inv.ollama_url}, version {inv.ollama_version or 'unknown'})",
        "",
        "## Models",
        "",
        "| model | family | arch | params | quantization | context | num_ctx | size GiB | loaded VRAM GiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in inv.models:
        vram = _gib(loaded[m.name].size_vram_bytes) if m.name in loaded else ""
        out.append(
            f"| {m.name} | {m.family} | {m.architecture or ''} | {m.parameter_size} | {m.quantization_level}"
            f" | {m.context_length or ''} | {m.num_ctx or ''} | {_gib(m.size_bytes)} | {vram} |"
        )
    out += ["", "## Settings", "", "| setting | value | source |", "|---|---|---|"]
    for key in sorted(inv.settings.values):
        out.append(f"| {key} | {inv.settings.values[key]} | {inv.settings.sources.get(key, '')} |")
    out += [
        "",
        "## Integration points in source",
        "",
        "| file | line | api | kind | evidence |",
        "|---|---|---|---|---|",
    ]
    for p in inv.integration_points:
        where = f"{p.line}" if p.cell is None else f"cell {p.cell}, line {p.line}"
        evidence = p.evidence.replace("|", "\\|")
        out.append(f"| {p.file} | {where} | {p.api} | {p.kind} | `{evidence}` |")
    out += [
        "",
        "## Clients in the access log",
        "",
        "| client | requests | errors | api | paths | first seen | last seen |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in inv.clients:
        out.append(
            f"| {c.client_ip} | {c.requests} | {c.errors} | {c.api} | {', '.join(c.paths)}"
            f" | {c.first_seen or ''} | {c.last_seen or ''} |"
        )
    if inv.problems:
        out += ["", "## Not read", ""] + [f"- {p}" for p in inv.problems]
    return "\n".join(out) + "\n"


def write_reports(inv: Inventory, out_dir: Path) -> list[Path]:
    """inventory.md, inventory.json, models.csv, integration_points.csv, clients.csv."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "inventory.md", out_dir / "inventory.json"]
    # Redacted again on the way out: the scan already hid secrets, this catches any other field.
    paths[0].write_text(redact(to_markdown(inv)), encoding="utf-8")
    paths[1].write_text(json.dumps(redact_data(inv.model_dump(mode="json")), indent=2), encoding="utf-8")
    tables = {
        "models.csv": [m.model_dump() for m in inv.models],
        "integration_points.csv": [p.model_dump() for p in inv.integration_points],
        "clients.csv": [{**c.model_dump(), "paths": " ".join(c.paths), "api": c.api} for c in inv.clients],
    }
    headers = {
        "models.csv": list(OllamaModelFields),
        "integration_points.csv": list(PointFields),
        "clients.csv": list(ClientFields),
    }
    for name, rows in tables.items():
        path = out_dir / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=headers[name], extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(v) for k, v in row.items()})
        paths.append(path)
    return paths


def _cell(value: object) -> object:
    if value is None:
        return ""
    return redact(value) if isinstance(value, str) else value


OllamaModelFields = (
    "name",
    "family",
    "architecture",
    "parameter_size",
    "parameter_count",
    "quantization_level",
    "context_length",
    "num_ctx",
    "size_bytes",
    "capabilities",
    "digest",
)
PointFields = ("file", "line", "cell", "api", "kind", "evidence")
ClientFields = (
    "client_ip",
    "requests",
    "errors",
    "api",
    "native_requests",
    "openai_requests",
    "other_requests",
    "paths",
    "first_seen",
    "last_seen",
)
