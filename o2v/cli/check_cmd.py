"""``o2v check validation``: re-judge a comparison's samples with the same GX suite and thresholds as the flow.

Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 bad input (a missing column or a bad value, named by line and
column; an unknown run id; neither or both of --samples and --run).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from o2v.cli.app import ConfigOption, app, console, err_console, settings_or_exit
from o2v.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from checks.verdict import Verdict
    from o2v.config import Settings

check_app = typer.Typer(help="Re-judge measured data with the project's GX suites.", no_args_is_help=True)
app.add_typer(check_app, name="check")

EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 3}


@check_app.command("validation")
def validation(
    samples: Annotated[
        Path | None,
        typer.Option(help="Samples CSV: server, concurrency, start_s, ok, e2e_s, ttft_s, output_tokens."),
    ] = None,
    run: Annotated[
        list[str] | None,
        typer.Option(help="A stored comparison id (or, given twice, the Ollama and vLLM load-test run ids)."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the verdict as JSON to this file.")] = None,
    docs: Annotated[bool, typer.Option(help="Add this validation to the project's GX Data Docs.")] = True,
    config: ConfigOption = None,
) -> None:
    """Judge vLLM against Ollama: exit 0 pass, 1 fail, 3 inconclusive, 2 bad input."""
    from checks.gx_project import project_dir_for
    from checks.runner import run_suite

    if (samples is None) == (not run):
        _bad(["give exactly one of --samples FILE.csv and --run ID"])
    settings = settings_or_exit(config)
    try:
        frame = _from_csv(samples) if samples is not None else _from_store(settings, run or [])
    except ConfigError as exc:
        _bad(exc.problems)
    verdict = run_suite(
        "validation",
        frame,
        settings.thresholds,
        project_dir=project_dir_for(settings) if docs else None,
        docs_base_url=settings.store.data_docs_base_url,
    )
    _print(verdict)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(verdict.model_dump_json(indent=2) + "\n", encoding="utf-8")
    raise typer.Exit(EXIT_CODES[verdict.status])


def _from_csv(path: Path) -> pd.DataFrame:
    from checks.samples_csv import read_samples_csv

    return read_samples_csv(path)


def _from_store(settings: Settings, ids: list[str]) -> pd.DataFrame:
    import pandas as pd

    from o2v.store import Store

    store = Store.from_settings(settings)
    run_ids: list[str] = []
    for given in ids:
        pair = store.get_state(f"comparison:{given}")
        run_ids += [pair["ollama_run_id"], pair["vllm_run_id"]] if pair else [given]
    rows = []
    for run_id in run_ids:
        found = store.samples(run_id=run_id)
        if not found:
            raise ConfigError([f"--run {run_id}: no comparison or load-test run with that id in {store.url}"])
        rows += [s.model_dump() for s in found]
    return pd.DataFrame(rows)


def _bad(problems: list[str]) -> None:
    for line in problems:
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(2)


def _print(verdict: Verdict) -> None:
    colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}[verdict.status]
    console.print(
        f"[{colour}]{verdict.status.upper()}[/{colour}] suite {verdict.suite}, {verdict.sample_count} samples",
        highlight=False,
    )
    for item in verdict.expectations:
        # "??": an interval straddles the limit; "--": a far end beyond it whose near end failed already.
        mark = "ok  " if item.success else "FAIL" if item.on_violation == "fail" else "??  " if item.message else "--  "
        observed = "not computable" if item.observed is None else f"{item.observed:.4g}"
        op = "<=" if item.bound == "max" else ">="
        console.print(
            f"  {mark} {item.part}: {item.figure}: observed {observed} (expected {op} {item.limit:.4g})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    for reason in verdict.reasons:
        console.print(f"  - {reason}", highlight=False, markup=False, soft_wrap=True)
    if verdict.data_docs_url:
        console.print(f"  Data Docs: {verdict.data_docs_url}", highlight=False, markup=False, soft_wrap=True)
