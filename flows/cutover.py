"""The cutover flow: for each stage, ask, route, watch; roll back on its own when the live traffic says so.

  for each stage from where the migration's cutover stopped (o2v.cutover.position):
      approval (Prefect UI form and Slack buttons, key stage-<n>); no or no answer -> the run fails, routes as they were
      routing change in the gateway's table (every gateway replica follows within a second)
      watch: every interval the "cutover" GX suite on the gateway's samples; the state machine decides
      promoted -> next stage | rolled back -> routes back, Slack alert, run Failed | timed out -> run Failed

A re-run with the same migration id resumes at the stage it stopped at, after a fresh approval.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Literal

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from o2v.config import Settings, load_settings
from o2v.cutover.analysis import Limits
from o2v.cutover.evidence import stage_question, stage_report_lines
from o2v.cutover.measure import IntervalResult, traffic_of, warm_up_gx
from o2v.cutover.position import CutoverPosition, load_position, save_position
from o2v.cutover.stages import Stage, resolve_stages
from o2v.cutover.watch import StageReport, watch_stage
from o2v.errors import ConfigError, GateFailed, PhaseError
from o2v.notify import Notifier
from o2v.rollback import route_back
from o2v.store import Store
from o2v.store_schema import utcnow
from tasks.cutover import analyse_interval, apply_stage, approve_stage, person_after_pause


class CutoverParameters(BaseModel):
    """The form the Prefect UI shows for a cutover run."""

    config_path: str | None = Field(None, description="migration.yaml on the worker (default: $O2V_CONFIG).")
    migration_id: str | None = Field(None, description="Resume this migration's cutover (default: from the config).")
    from_stage: int | None = Field(None, ge=1, description="Start at this stage instead of where the last run stopped.")


class CutoverSummary(BaseModel):
    migration_id: str
    status: Literal["done"]
    stages: list[StageReport]
    routing_version: int
    decommission: str = Field("", description="When Ollama's decommission will run and how to cancel it.")

    def to_markdown(self) -> str:
        lines = [f"# cutover {self.migration_id}: {self.status} (routing table v{self.routing_version})", ""]
        if self.decommission:
            lines += [self.decommission, ""]
        for report in self.stages:
            lines += [*stage_report_lines(report), ""]
        return "\n".join(lines)


@flow(name="cutover", log_prints=True, validate_parameters=True)
def cutover(params: CutoverParameters | None = None) -> CutoverSummary:
    """Move the clients to vLLM stage by stage, with an approval before each and automatic rollback."""
    from o2v.notify import notifier_from_settings
    from tasks.notify import current_flow_run_url

    params = params or CutoverParameters()
    try:
        settings = load_settings(params.config_path)
    except ConfigError as exc:
        raise PhaseError("cutover", str(exc), "run `o2v config check` and fix every line") from exc
    if params.migration_id:
        settings.migration_id = params.migration_id
    store = Store.from_settings(settings)
    notifier = notifier_from_settings(settings, store=store)
    run = Run(settings, store, notifier, current_flow_run_url())
    summary = run.all_stages(params.from_stage)
    from o2v.decommission.schedule import schedule_after_cutover

    # The last stage passed: Ollama's retirement is scheduled (once, whatever the re-runs), and a rollback cancels it.
    summary.decommission = schedule_after_cutover(settings, store, config_path=params.config_path, notifier=notifier)
    get_run_logger().info("%s", summary.decommission)
    return summary


class Run:
    """One cutover run's state: the stages, the position in the store, and the reports so far."""

    def __init__(self, settings: Settings, store: Store, notifier: Notifier, url: str | None) -> None:
        self.settings, self.store, self.notifier, self.url = settings, store, notifier, url
        self.stages = resolve_stages(settings)
        self.position = load_position(store, settings.migration_id)
        self.reports: list[StageReport] = []
        cut = settings.cutover
        self.limits = Limits(
            failure_limit=cut.failure_limit, inconclusive_limit=cut.inconclusive_limit,
            consecutive_error_limit=cut.consecutive_error_limit,
        )  # fmt: skip
        self.log = get_run_logger()
        # GX's first validation in a process is slow; pay for it while the first question waits for a person.
        self.warm = threading.Thread(target=warm_up_gx, name="gx-warm-up", daemon=True)
        self.warm.start()

    def all_stages(self, from_stage: int | None) -> CutoverSummary:
        first = from_stage or self.position.next_stage
        if first > len(self.stages):
            self.log.info("cutover %s: every stage is done already", self.settings.migration_id)
        else:
            self.log.info("cutover %s: stages %d..%d", self.settings.migration_id, first, len(self.stages))
        for stage in self.stages[first - 1 :]:
            self.one_stage(stage)
        self.save(status="done", reason="every stage promoted")
        self.notifier.phase(
            self.settings.migration_id, "cutover", "succeeded",
            {"stages": str(len(self.stages)), "clients": "every client on vLLM"}, flow_run_url=self.url,
        )  # fmt: skip
        summary = CutoverSummary(
            migration_id=self.settings.migration_id, status="done", stages=self.reports,
            routing_version=self.store.routing_version(),
        )  # fmt: skip
        _artifact("cutover", summary.to_markdown())
        return summary

    def one_stage(self, stage: Stage) -> None:
        from o2v.approvals.pause import current_flow_run_id

        s = self.settings
        self.save(status="asking", reason=f"waiting for approval of {stage.key}", flow_run_id=current_flow_run_id())
        evidence = stage_question(stage, self.stages, self.store.routing_table(), self.position, self.reports)
        answer = approve_stage(s, self.store, self.notifier, stage, evidence)
        if answer.decision != "approve":
            status: Literal["timed-out", "rejected"] = "timed-out" if answer.decision == "timeout" else "rejected"
            who = f" by {answer.approver}" if answer.approver else ""
            reason = f"{stage.key} {status}{who}: {answer.comment or 'no comment'}; routes left as they were"
            self.save(status=status, reason=reason)
            self.notifier.phase(s.migration_id, f"cutover {stage.key}", "failed", {"reason": reason}, self.url)
            raise PhaseError(
                "cutover",
                reason,
                f"re-run the cutover with migration id {s.migration_id}: it asks for {stage.key} again",
            )
        self.warm.join()  # so that the watch window is all watching, not GX starting up
        entry = self.store.phase_started(s.migration_id, f"cutover-{stage.key}", s.config_hash())
        table = apply_stage(s, self.store, self.stages, stage, actor=f"cutover:{answer.approver or answer.via}")
        started = self.position.started or utcnow()  # the pre-cutover baseline ends when the first client moves
        self.save(in_force=stage.index, status="watching", reason=f"watching {stage.key}", started=started)
        self.log.info("%s in force (routing table v%d); watching", stage.name, table.version)
        report = watch_stage(
            stage, self.limits, routing_version=table.version,
            measure=lambda since, until: self.measure(stage, since, until),
            ask_person=person_after_pause(s, self.store, self.notifier, stage, evidence),
        )  # fmt: skip
        report.traffic = traffic_of(self.store.samples(source="gateway", since=report.started, until=report.ended))
        self.document(stage, report)
        self.reports.append(report)
        _artifact(f"cutover-{stage.key}", "\n".join(stage_report_lines(report)))
        figures = {"verdict": report.end, "reason": report.reason, "traffic": _traffic(report)}
        if report.end == "promoted":
            self.store.phase_finished(entry, "succeeded", result=report.model_dump(mode="json"))
            self.save(completed=stage.index, status="watching", reason=f"{stage.key} promoted")
            self.notifier.phase(s.migration_id, f"cutover {stage.key}", "succeeded", figures, self.url)
            return
        self.store.phase_finished(entry, "failed", error=report.reason, result=report.model_dump(mode="json"))
        if report.end == "rolled-back":
            self.roll_back(stage, report)
        self.save(status="timed-out" if report.end == "timed-out" else "stopped", reason=report.reason)
        self.notifier.phase(s.migration_id, f"cutover {stage.key}", "failed", figures, self.url)
        raise PhaseError("cutover", f"{stage.key}: {report.reason}", "the stage stays in force; re-run to ask again")

    def measure(self, stage: Stage, since: datetime, until: datetime) -> IntervalResult:
        result = analyse_interval(self.settings, self.store, stage, since, until, self.position.started)
        m = result.measurement
        self.log.info("%s interval: %s %s", stage.key, m.outcome, m.reasons[0] if m.reasons else "")
        return result

    def document(self, stage: Stage, report: StageReport) -> None:
        """Judge the interval that decided again in the file-backed GX project: its Data Docs page for the record."""
        deciding = report.intervals[-1] if report.intervals else None
        if deciding is None or deciding.since is None:
            return
        result = analyse_interval(
            self.settings, self.store, stage, deciding.since, deciding.at, self.position.started, docs=True
        )
        if result.verdict is not None:
            report.data_docs_url = result.verdict.data_docs_url
            if report.end == "rolled-back" and not report.failed_expectations:
                report.failed_expectations = [f.message for f in result.verdict.failures if f.observed is not None]

    def roll_back(self, stage: Stage, report: StageReport) -> None:
        to = self.settings.cutover.rollback_to
        reason = f"{stage.key} rolled back automatically: {report.reason}"
        table = route_back(self.settings, self.store, to=to, reason=reason, actor="cutover:analysis")
        self.position = load_position(self.store, self.settings.migration_id)
        figures = {f"failed {i}": m for i, m in enumerate(report.failed_expectations[:5], 1)}
        figures["routing"] = f"v{table.version}: {'all on Ollama' if to == 'ollama' else 'previous stage'}"
        if report.data_docs_url:
            figures["Data Docs"] = report.data_docs_url
        self.notifier.alert(
            f"Cutover {self.settings.migration_id}: {reason}", figures=figures, flow_run_url=self.url, level="error"
        )
        raise GateFailed(f"cutover {stage.key}", [report.reason, *report.failed_expectations])

    def save(self, **changes: object) -> CutoverPosition:
        self.position = save_position(self.store, self.position, **changes)
        return self.position


def _traffic(report: StageReport) -> str:
    t = report.traffic
    return f"{t.sent} sent, {t.ok} ok, {t.failed} failed"


def _artifact(key: str, markdown: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(key=key, markdown=markdown, description="o2v cutover")
