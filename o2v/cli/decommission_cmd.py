"""``o2v decommission`` (the flow, here) and ``o2v rehearse-decommission`` (the simulators, end to end)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from o2v.cli.app import ConfigOption, app, console, fail, settings_or_exit


@app.command()
def decommission(config: ConfigOption = None) -> None:
    """Retire Ollama now (same flow as the deployment): refuses, or is blocked, with every reason; asks first."""
    settings_or_exit(config)
    from flows.decommission import DecommissionParameters
    from flows.decommission import decommission as decommission_flow
    from o2v.cli.flows_cmd import _quiet_ephemeral_prefect
    from o2v.errors import GateFailed

    _quiet_ephemeral_prefect()
    try:
        result = decommission_flow(DecommissionParameters(config_path=str(config) if config else None))
    except GateFailed as exc:
        fail("\n  ".join([f"decommission: {exc.gate}", *exc.violations]))
    console.print(result.to_markdown(), highlight=False, soft_wrap=True)


@app.command("rehearse-decommission")
def rehearse_decommission(
    workdir: Annotated[Path, typer.Option(help="Where the store, config and reports go.")] = Path(
        ".o2v/rehearsal-decommission"
    ),
    straggler: Annotated[bool, typer.Option(help="One simulated client calls Ollama directly (must block).")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the summary as JSON here.")] = None,
) -> None:
    """The decommission on the simulators: scheduled seconds ahead, approved, stopped, rolled back and forward
    (needs Docker and the o2v-sim-ollama image: bash deployments/build-images.sh)."""
    from o2v.cli.flows_cmd import _quiet_ephemeral_prefect
    from o2v.decommission.rehearsal import rehearse_decommission as run

    _quiet_ephemeral_prefect()
    summary = run(workdir.resolve(), straggler=straggler)
    for line in summary.lines():
        console.print(line, highlight=False, soft_wrap=True)
    if json_out is not None:
        json_out.write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
    expected = "blocked" if straggler else "decommissioned"
    if summary.outcome != expected:
        fail(f"expected the decommission to end {expected!r}, it ended {summary.outcome!r}: {summary.reasons}")
