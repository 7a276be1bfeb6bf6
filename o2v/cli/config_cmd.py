"""``o2v config check``: validate migration.yaml, one line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from o2v.cli.app import app, console, settings_or_exit
from o2v.config import resolve_config_path

config_app = typer.Typer(help="Inspect and validate the migration configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("check")
def check(
    path: Annotated[Path | None, typer.Argument(help="File to check (default: $O2V_CONFIG, else ./migration.yaml).")] = None,
) -> None:
    """Validate a configuration: exit 0 with a summary, or exit 2 with one line per problem."""
    resolved = resolve_config_path(path)
    settings = settings_or_exit(resolved)
    where = str(resolved) if resolved else "built-in defaults (no migration.yaml found)"
    console.print(f"[green]OK[/green] {where}", highlight=False)
    models = ", ".join(f"{tag} -> {m.hf_repo}" for tag, m in settings.models.items()) or "from the built-in catalog"
    lines = [
        f"migration id    {settings.migration_id}",
        f"ollama          {settings.ollama.url} (container {settings.ollama.container_name}, logs: {settings.ollama.log_source})",
        f"vllm            {settings.vllm.image} on {settings.vllm.url} via {settings.vllm.backend}"
        f", gpu_memory_utilization {settings.vllm.gpu_memory_utilization}",
        f"models          {models}",
        f"gpu             compute capability >= {settings.gpu.min_compute_capability}",
        f"load test       concurrency {settings.loadtest.concurrency}, {settings.loadtest.requests_per_level} requests/level",
        f"slack           {'configured, channel ' + settings.slack.channel if settings.slack.enabled else 'not configured (console output)'}",
        f"store           {settings.store.url.split('@')[-1]}",
        f"cutover         stages {settings.cutover.stages_percent} %, decommission after {settings.cutover.decommission_after_days} days",
        f"config hash     {settings.config_hash()}",
    ]
    for line in lines:
        console.print("  " + line, highlight=False, markup=False)
