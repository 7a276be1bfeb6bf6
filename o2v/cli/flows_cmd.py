"""Commands that run the Prefect flows: ``o2v rehearse``, ``migrate``, ``cutover``, ``rollback``, ``serve``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from o2v.cli.app import ConfigOption, app, console, fail, settings_or_exit

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

BASELINE_CRON = "*/15 8-18 * * 1-5"  # every 15 minutes in working hours, as in prefect.yaml


def _quiet_ephemeral_prefect() -> None:
    # Without PREFECT_API_URL, Prefect starts a temporary server that tries to send telemetry: on hosts without
    # internet access that only prints errors. A configured Prefect server keeps its own setting.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@app.command()
def rehearse(
    workdir: Annotated[Path, typer.Option(help="Where the rehearsal's store, config and reports go.")] = Path(
        ".o2v/rehearsal"
    ),
    keep_running: Annotated[bool, typer.Option(help="Leave the vLLM simulator running afterwards.")] = False,
    scan: Annotated[
        list[Path] | None, typer.Option(help="A source tree to scan for Ollama clients (repeatable).")
    ] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the summary as JSON here.")] = None,
    fail_at: Annotated[
        str | None, typer.Option(help="'cutover': slow vLLM when the second stage starts (automatic rollback).")
    ] = None,
    straggler: Annotated[
        bool, typer.Option(help="One client calls Ollama directly: the decommission must be blocked (exit 1).")
    ] = False,
) -> None:
    """Run the whole migration against built-in simulators, cutover and Ollama's decommission included (a rollback
    to Ollama and forward again): no GPU, Docker or Slack needed. Exit 0 when every step passed, 1 otherwise."""
    from rich.markup import escape

    from o2v.rehearse import rehearse as run_rehearsal

    if fail_at not in (None, "cutover"):
        fail(f"--fail-at must be 'cutover', got {fail_at!r}", 2)
    _quiet_ephemeral_prefect()

    console.print("Rehearsal: Ollama and vLLM simulators on this machine, Slack messages below.", highlight=False)
    result = run_rehearsal(
        workdir, keep_running=keep_running, scan_paths=[str(p) for p in scan or []], fail_at=fail_at,
        straggler=straggler,
    )  # fmt: skip
    colour = "green" if result.status == "decommissioned" else "red"
    lines = [
        "",
        f"[{colour}]Rehearsal {result.status}[/{colour}] in {result.duration_s:.0f} s",
        *(f"  {p['phase']:<11} {p['status']:<9} {p['duration_s']:6.1f} s" for p in result.phases),
        f"Reports: {result.reports_dir}",
        f"  comparison  {result.reports_dir}/comparison/comparison.md (+ latency.png, throughput.png, ttft.png)",
        f"  data docs   {result.data_docs}",
        f"Config:  {result.config_path} (a starting point for your own migration.yaml)",
    ]
    cut = result.cutover
    if cut is not None:
        c = cut.clients
        lines.append(f"Cutover: {cut.status}; clients sent {c.sent}, ok {c.ok}, failed {c.failed} (client-side count)")
        lines += [
            f"  {st.stage:<8} {st.verdict:<11} moved {st.moved}; gateway {st.sent} sent, {st.ok} ok, {st.failed} failed"
            for st in cut.stages
        ]
        lines += [f"  routes now: {cut.percent:g} % of unnamed on vLLM; {cut.routes or 'no named client routed'}"]
        lines += [f"  failed request: {escape(f)}" for f in c.failures]
    if result.decommission is not None:
        lines += [escape(line) for line in result.decommission.lines()]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    if json_file is not None:
        json_file.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        console.print(f"Summary: {json_file}", highlight=False)
    end = result.decommission
    if end is not None and end.outcome == "blocked":
        named = "; ".join(s.sentence() for s in end.stragglers) or "; ".join(end.reasons)
        console.print(f"[red]Ollama's decommission was blocked[/red]: {escape(named)}", highlight=False, soft_wrap=True)
    if result.status != "decommissioned":
        raise typer.Exit(1)


@app.command()
def migrate(
    config: ConfigOption = None,
    from_phase: Annotated[str | None, typer.Option(help="Run this phase and every later one again.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Stop after the plan: deploy nothing.")] = False,
    scan: Annotated[list[str] | None, typer.Option(help="Source tree to scan for Ollama clients (repeatable).")] = None,
    cutover: Annotated[bool, typer.Option(help="After validation, continue into the staged cutover.")] = False,
) -> None:
    """Run the migrate flow here (same flow as the Prefect deployment), resuming where a previous run failed."""
    settings_or_exit(config)  # a bad configuration stops before anything is touched
    _quiet_ephemeral_prefect()
    from flows.migrate import MigrateParameters
    from flows.migrate import migrate as migrate_flow
    from o2v.phases import PHASES

    if from_phase is not None and from_phase not in PHASES:
        fail(f"--from-phase must be one of {', '.join(PHASES)}, got {from_phase!r}", 2)
    summary = migrate_flow(
        MigrateParameters(
            config_path=str(config) if config else None, from_phase=from_phase,  # type: ignore[arg-type]
            dry_run=dry_run, scan_paths=scan or [], continue_to_cutover=cutover,
        )
    )
    console.print(f"[green]{summary.status}[/green]; reports in {summary.reports_dir}", highlight=False)


@app.command()
def rollback(
    config: ConfigOption = None,
    reason: Annotated[str, typer.Option(help="Why; goes to the audit log and Slack.")] = "manual rollback",
    to_ollama: Annotated[
        bool, typer.Option(help="After a decommission: restart the kept Ollama, then route every client to it.")
    ] = False,
    keep_vllm: Annotated[bool, typer.Option(help="Only route every client back to Ollama; leave vLLM up.")] = False,
) -> None:
    """Route every client back to Ollama through the gateway (any cutover stage), then take vLLM down (logs kept);
    --to-ollama after a decommission restarts the kept Ollama first."""
    settings_or_exit(config)
    _quiet_ephemeral_prefect()
    from flows.rollback import RollbackParameters
    from flows.rollback import rollback as rollback_flow

    params = RollbackParameters(
        config_path=str(config) if config else None, reason=reason, actor="cli", to_ollama=to_ollama,
        keep_vllm=keep_vllm,
    )
    result = rollback_flow(params)
    console.print(f"rolled back: every client on Ollama; {'vLLM kept' if result is None else result}", highlight=False)


@app.command()
def cutover(
    config: ConfigOption = None,
    from_stage: Annotated[int | None, typer.Option(help="Start at this stage (default: where it stopped).")] = None,
) -> None:
    """Run the cutover flow here: each stage asks for approval (Prefect UI or Slack), then is watched."""
    settings_or_exit(config)
    _quiet_ephemeral_prefect()
    from flows.cutover import CutoverParameters
    from flows.cutover import cutover as cutover_flow

    summary = cutover_flow(CutoverParameters(config_path=str(config) if config else None, from_stage=from_stage))
    console.print(f"[green]cutover {summary.status}[/green]: every client on vLLM", highlight=False)


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Serve the migrate, cutover, decommission, baseline-monitor and rollback deployments from this process (no
    work pool needed), with the Slack approval listener beside them when Socket Mode is configured."""
    from prefect import serve as prefect_serve
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    from o2v.cli.slack_cmd import start_in_background

    if start_in_background(settings_or_exit(config)):
        console.print("Slack approvals: listening over Socket Mode", highlight=False)
    else:
        console.print("Slack approvals: off (set slack.bot_token and slack.app_token to answer from Slack)")

    from flows.baseline import baseline_monitor
    from flows.cutover import cutover as cutover_flow
    from flows.decommission import decommission as decommission_flow
    from flows.migrate import migrate as migrate_flow
    from flows.rollback import rollback as rollback_flow

    # As in prefect.yaml: one migrate and one rollback run at a time, the next one queued.
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    deployments = [
        migrate_flow.to_deployment(name="migrate", enforce_parameter_schema=True, concurrency_limit=one_at_a_time),
        baseline_monitor.to_deployment(
            name="baseline-monitor", cron=BASELINE_CRON, enforce_parameter_schema=True
        ),
        rollback_flow.to_deployment(name="rollback", enforce_parameter_schema=True, concurrency_limit=one_at_a_time),
        decommission_flow.to_deployment(
            name="decommission", enforce_parameter_schema=True, concurrency_limit=one_at_a_time
        ),
        cutover_flow.to_deployment(name="cutover", enforce_parameter_schema=True, concurrency_limit=one_at_a_time),
    ]
    # to_deployment is sync here (no running event loop); the union in its signature is for async callers.
    prefect_serve(*cast("list[RunnerDeployment]", deployments))
