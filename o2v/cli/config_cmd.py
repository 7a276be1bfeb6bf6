"""``o2v config check``: validate migration.yaml, one line per problem."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from o2v.cli.app import app, console, settings_or_exit
from o2v.config import ENV_PREFIX, Settings, resolve_config_path

config_app = typer.Typer(help="Inspect and validate the migration configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

PathArgument = Annotated[
    Path | None, typer.Argument(help="File to check (default: $O2V_CONFIG, else ./migration.yaml).")
]


@config_app.command("check")
def check(path: PathArgument = None) -> None:
    """Validate a configuration: exit 0 with a summary, or exit 2 with one line per problem."""
    resolved = resolve_config_path(path)
    settings = settings_or_exit(resolved)
    where = str(resolved) if resolved else "built-in defaults (no migration.yaml found)"
    console.print(f"[green]OK[/green] {where}", highlight=False, soft_wrap=True)
    for line in summary_lines(settings):
        console.print("  " + line, highlight=False, markup=False, soft_wrap=True)


def summary_lines(settings: Settings) -> list[str]:
    """A short, secret-free summary: what a reviewer needs to see that the file says what they meant."""
    from o2v.cutover.stages import resolve_stages

    s = settings
    models = ", ".join(f"{tag} -> {m.hf_repo}" for tag, m in s.models.items()) or "from the built-in catalog"
    slack = f"configured, channel {s.slack.channel}" if s.slack.enabled else "not configured (console output)"
    lines = [
        f"migration id    {s.migration_id}",
        f"ollama          {s.ollama.url} (container {s.ollama.container_name}, logs: {s.ollama.log_source})",
        f"vllm            {s.vllm.image} on {s.vllm.url} via {s.vllm.backend}"
        f", gpu_memory_utilization {s.vllm.gpu_memory_utilization}",
        f"models          {models}",
        f"gpu             compute capability >= {s.gpu.min_compute_capability}",
        f"load test       concurrency {s.loadtest.concurrency}, {s.loadtest.requests_per_level} requests/level",
        f"slack           {slack}",
        f"store           {s.store.safe_url}",
        f"cutover         stages: {'; '.join(st.moves() for st in resolve_stages(s))}"
        f", decommission after {s.cutover.decommission_after_days} days",
        f"config hash     {s.config_hash()}",
    ]
    overridden = sorted(name for name in os.environ if name.upper().startswith(ENV_PREFIX))
    if overridden:
        lines.append(f"environment     {', '.join(overridden)} (values not shown)")
    return lines

