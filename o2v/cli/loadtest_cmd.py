"""``o2v loadtest`` (one server) and ``o2v compare`` (Ollama vs vLLM side by side, or ``--simulate``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from o2v.cli.app import ConfigOption, app, console, err_console, fail, settings_or_exit
from o2v.errors import O2VError

if TYPE_CHECKING:
    from o2v.store import Store


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        fail(f"--{what} must be comma-separated whole numbers such as 1,5,10, got {text!r}", 2)
    if not values or any(v < 1 for v in values):
        fail(f"--{what} must list numbers >= 1 such as 1,5,10, got {text!r}", 2)
    return values


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        fail(f"--{what} must be comma-separated numbers such as 2,5.5,10, got {text!r}", 2)
    if not values or any(v <= 0 for v in values):
        fail(f"--{what} must list rates > 0 (requests per second), got {text!r}", 2)
    return values


def _print_table(table: object) -> None:
    # A pipe or CI log has no width: print the table whole rather than squeezed to 80 columns.
    if console.is_terminal:
        console.print(table)
        return
    from rich.console import Console

    Console(width=max(console.width, 150), file=console.file, highlight=False).print(table)


def _open_store(config: Path | None, enabled: bool) -> Store | None:
    if not enabled:
        return None
    from o2v.store import Store

    return Store.from_settings(settings_or_exit(config))


@app.command()
def loadtest(
    url: Annotated[
        str, typer.Argument(help="Server base URL, e.g. http://127.0.0.1:8000 (a trailing /v1 is fine).")
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name as the server knows it.")],
    api: Annotated[
        Literal["openai", "ollama"],
        typer.Option(help="openai: /v1/chat/completions (vLLM); ollama: /api/chat."),
    ] = "openai",
    concurrency: Annotated[str, typer.Option(help="Concurrency levels to sweep.")] = "1,5,10,20,50",
    requests: Annotated[
        int, typer.Option(min=1, help="Requests per level (>= 20 for a meaningful p95).")
    ] = 20,
    rate: Annotated[
        str | None, typer.Option(help="Request-rate mode: arrival rates to sweep, req/s.")
    ] = None,
    constant: Annotated[
        bool, typer.Option(help="Rate mode: constant gaps instead of Poisson arrivals.")
    ] = False,
    max_concurrency: Annotated[
        int | None, typer.Option(min=1, help="Rate mode: cap on requests in flight.")
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Output tokens requested per request.")] = 128,
    temperature: Annotated[float, typer.Option(min=0, max=2, help="Sampling temperature.")] = 0.0,
    timeout: Annotated[float, typer.Option(min=0.001, help="Per-request timeout, seconds.")] = 120.0,
    warmup: Annotated[int, typer.Option(min=0, help="Unmeasured warm-up requests.")] = 2,
    ramp_up: Annotated[float, typer.Option(min=0, help="Seconds over which load ramps up per level.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed for prompt order and arrivals.")] = 0,
    prompts_file: Annotated[
        Path | None, typer.Option(help="JSONL prompts ({'prompt': ...} per line).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="O2V_API_KEY", help="Bearer token (vLLM --api-key).")
    ] = None,
    backend: Annotated[
        Literal["ollama", "vllm"] | None,
        typer.Option(help="Server kind recorded on samples (default from --api)."),
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the full result (JSON) here.")
    ] = None,
    store: Annotated[bool, typer.Option(help="Write every request to the results store as a sample.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    config: ConfigOption = None,
) -> None:
    """Load-test one server: latency, TTFT, ITL, throughput and errors per level, measured on the client."""
    from pydantic import ValidationError

    from o2v.loadgen import Workload
    from o2v.loadgen.report import LOADTEST_COLUMNS, loadtest_rows, result_json, rich_table
    from o2v.loadgen.runner import run_async, run_loadtest

    try:
        workload = Workload.model_validate(
            dict(
                url=url,
                api=api,
                model=model,
                backend=backend or ("ollama" if api == "ollama" else "vllm"),
                concurrency=_ints(concurrency, "concurrency"),
                requests_per_level=requests,
                mode="rate" if rate else "concurrency",
                rate_rps=_floats(rate, "rate") if rate else [],
                poisson=not constant,
                max_concurrency=max_concurrency,
                max_tokens=max_tokens,
                temperature=temperature,
                request_timeout_s=timeout,
                warmup_requests=warmup,
                ramp_up_s=ramp_up,
                seed=seed,
                prompts_file=prompts_file,
                api_key=api_key,
            )
        )
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc'])) or 'workload'}: {e['msg']}" for e in exc.errors()), 2)
    for warning in workload.warnings():
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    db = _open_store(config, store)

    async def go(stop: object) -> object:
        if db is None:
            return await run_loadtest(workload, progress=progress, stop=stop)  # type: ignore[arg-type]
        async with db.writer() as writer:
            return await run_loadtest(workload, writer=writer, progress=progress, stop=stop)  # type: ignore[arg-type]

    try:
        result = run_async(go)  # type: ignore[arg-type]
    except O2VError as exc:
        fail(str(exc))
    if db is not None:
        db.save_run(result.run_record())
    _print_table(
        rich_table(
            f"{workload.url} ({workload.api}) model {workload.model}", LOADTEST_COLUMNS, loadtest_rows(result)
        )
    )
    for warning in result.warnings[len(workload.warnings()) :]:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(result_json(result), encoding="utf-8")
        console.print(f"result written to {json_file}", highlight=False)
    if db is not None:
        console.print(f"{len(result.samples)} samples stored as run {result.run_id}", highlight=False)
    if result.interrupted:
        err_console.print("interrupted: the table shows what was measured before Ctrl-C", highlight=False)
        raise typer.Exit(130)


@app.command()
def compare(
    simulate: Annotated[
        bool, typer.Option(help="Start the built-in Ollama and vLLM simulators, compare them, stop them.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Report directory (default: <workdir>/reports/compare-*).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Ollama tag to compare (default loadtest.model).")] = None,
    concurrency: Annotated[
        str | None, typer.Option(help="Levels, e.g. 1,5,10 (default from config).")
    ] = None,
    requests: Annotated[
        int | None, typer.Option(min=1, help="Requests per level (default from config).")
    ] = None,
    store: Annotated[bool, typer.Option(help="Write every request to the results store as a sample.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    config: ConfigOption = None,
) -> None:
    """Run one workload against Ollama and vLLM; write a side-by-side report (table, JSON, Markdown, PNG)."""
    from o2v.loadgen.report import COMPARE_COLUMNS, compare_rows, headline, rich_table

    settings = settings_or_exit(config)
    if concurrency is not None:
        settings.loadtest.concurrency = _ints(concurrency, "concurrency")
    if requests is not None:
        settings.loadtest.requests_per_level = requests
    db = _open_store(config, store)
    try:
        if simulate:
            from o2v.loadgen.simulated import simulated_comparison

            console.print("starting the Ollama and vLLM simulators (about 20 s in all) ...", highlight=False)
            report = simulated_comparison(
                settings,
                out_dir=out,
                store=db,
                progress=progress,
                levels=settings.loadtest.concurrency if concurrency else None,
                requests_per_level=requests,
            )
        else:
            from o2v.loadgen.compare import run_comparison

            report = run_comparison(settings, store=db, out_dir=out, progress=progress, model=model)
    except O2VError as exc:
        fail(str(exc))
    _print_table(rich_table("Ollama vs vLLM (same workload)", COMPARE_COLUMNS, compare_rows(report)))
    console.print(headline(report), highlight=False)
    for warning in report.warnings():
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    console.print(f"report: {report.files.get('markdown', report.out_dir)}", highlight=False)
    for kind in ("latency", "throughput", "ttft"):
        if kind in report.files:
            console.print(f"  plot: {report.files[kind]}", highlight=False)
    if report.interrupted:
        err_console.print("interrupted: the report covers what was measured before Ctrl-C", highlight=False)
        raise typer.Exit(130)
