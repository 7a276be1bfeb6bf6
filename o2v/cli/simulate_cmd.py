"""``o2v simulate ollama|vllm [flags]``: the same simulators and flags as ``python -m o2v.simulate``."""

from __future__ import annotations

import typer

from o2v.cli.app import app

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("simulate", context_settings=_PASS_THROUGH, add_help_option=False)
def simulate(ctx: typer.Context) -> None:
    """Run an Ollama or vLLM simulator: o2v simulate ollama|vllm --port P [flags] (--help for flags)."""
    from o2v.simulate.__main__ import main as simulate_main

    raise typer.Exit(simulate_main(list(ctx.args)))
