"""``o2v diagnose`` (is Ollama's concurrency the bottleneck?) and ``o2v logs`` (parse an Ollama log)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from o2v.cli.app import ConfigOption, app, console, err_console, fail, settings_or_exit

LOG_HELP = "Ollama log: a file (.gz too), '-' for stdin, or docker:CONTAINER for a container's logs."


def _records(source: str) -> Iterator[object]:
    from o2v.servers.logs import docker_log_lines, parse_lines, read_log

    if source.startswith("docker:"):
        return parse_lines(docker_log_lines(source.split(":", 1)[1]))
    return read_log(source)


@app.command()
def diagnose(
    url: Annotated[str | None, typer.Option("--url", help="Probe this Ollama (default: ollama.url when no --log).")]
    = None,
    log: Annotated[str | None, typer.Option("--log", help=LOG_HELP)] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full typed result to this file.")] = None,
    sign: Annotated[list[str] | None, typer.Option("--sign", help="A sign you observed (repeatable): "
                                                   "informal_coordination, multiple_instances, non_developer_users, "
                                                   "concurrent_streaming.")] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Neither read baseline samples nor record probes.")]
    = False,
    config: ConfigOption = None,
) -> None:
    """Prove (or disprove) that Ollama's concurrency is the bottleneck; with only --log, no request is sent."""
    from o2v.diagnose import diagnose as run
    from o2v.diagnose.evidence import SIGN_TITLES
    from o2v.diagnose.report import to_markdown
    from o2v.errors import StoreError
    from o2v.store import Store

    settings = settings_or_exit(config)
    unknown = [s for s in sign or [] if s not in SIGN_TITLES]
    if unknown:
        fail(f"unknown --sign {unknown}; expected one of {sorted(SIGN_TITLES)}", code=2)
    store = None
    if not no_store:
        try:
            store = Store.from_settings(settings)
        except StoreError as exc:
            err_console.print(f"warning: {exc}; continuing without the store", highlight=False, markup=False)
    probe = url is not None or log is None
    try:
        result = run(settings, store=store, log_records=_records(log) if log else None,  # type: ignore[arg-type]
                     probe=probe, url=url, observed={s: True for s in sign or []})
    except FileNotFoundError as exc:
        fail(str(exc), code=2)
    finally:
        if store is not None:
            store.close()
    console.print(to_markdown(result), highlight=False, markup=False, soft_wrap=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(result.model_dump_json(indent=2))
        console.print(f"written {json_out}", highlight=False, markup=False)


@app.command()
def logs(
    source: Annotated[str, typer.Argument(help=LOG_HELP)],
    as_json: Annotated[bool, typer.Option("--json", help="Print every parsed record as one JSON line.")] = False,
    config: ConfigOption = None,
) -> None:
    """Parse an Ollama log: records as JSON lines, or a summary (counts, server config, unparsed lines)."""
    from o2v.diagnose.logstats import LogAnalyzer
    from o2v.servers.logs import AccessRecord, AppRecord, UnparsedLine

    settings = settings_or_exit(config)
    d = settings.diagnose
    analyzer = LogAnalyzer(timeout_s=settings.ollama.timeout_s, working_hours=d.working_hours,
                           working_days=d.working_days)
    try:
        for record in _records(source):
            assert isinstance(record, AccessRecord | AppRecord | UnparsedLine)
            analyzer.add(record)
            if as_json:
                sys.stdout.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    except FileNotFoundError as exc:
        fail(str(exc), code=2)
    summary = analyzer.summary()
    out = err_console if as_json else console
    out.print(f"{summary.lines} lines: {summary.access_records} access, {summary.app_records} application, "
              f"{summary.noise_lines} runner/banner, {summary.unparsed_lines} unparsed", highlight=False, markup=False)
    if not as_json:
        for key in ("OLLAMA_NUM_PARALLEL", "OLLAMA_MAX_QUEUE", "OLLAMA_KEEP_ALIVE", "OLLAMA_MAX_LOADED_MODELS"):
            if key in summary.server_config:
                out.print(f"  {key}={summary.server_config[key]}", highlight=False, markup=False)
        out.print(f"  {summary.inference_requests} inference requests, {summary.timeouts} reached "
                  f"{settings.ollama.timeout_s:g} s, {summary.aborts} aborted, {summary.model_loads} model loads",
                  highlight=False, markup=False)
    if summary.unparsed_lines:
        out.print("unparsed lines, e.g.:", highlight=False, markup=False)
        for line in summary.unparsed_sample:
            out.print("  " + line, highlight=False, markup=False)
    if not summary.format_recognised:
        fail(f"{source} does not look like an Ollama log ({summary.unparsed_lines} of {summary.lines} lines "
             "unparsed); expected gin access lines ([GIN] ...) or slog lines (time=... level=...)")
