"""The Typer application and the helpers every command shares (loading settings, exiting cleanly)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

import o2v
from o2v.config import Settings, load_settings
from o2v.errors import ConfigError, O2VError

app = typer.Typer(
    name="o2v",
    help="Move a team's shared LLM serving from Ollama to vLLM, phase by phase, with evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="migration.yaml to use (default: $O2V_CONFIG, else ./migration.yaml)."),
]


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit(path: Path | None) -> Settings:
    """Load settings for a command; bad configuration prints one line per problem and exits 2."""
    try:
        return load_settings(path)
    except ConfigError as exc:
        for line in exc.problems:
            err_console.print(line, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from exc


@app.command()
def version() -> None:
    """Print o2v's version."""
    console.print(f"o2v {o2v.__version__}", highlight=False)


def main() -> None:
    """Entry point: O2VError becomes one line and exit code 1, never a traceback."""
    try:
        app()
    except O2VError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
