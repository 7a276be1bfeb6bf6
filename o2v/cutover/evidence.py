"""What an approver reads before saying yes: the stage to start, who moves, and the evidence so far, in Markdown.

The same text is the Prefect resume form's description and the body of the Slack question.
"""

from __future__ import annotations

from o2v.cutover.position import CutoverPosition
from o2v.cutover.stages import Stage
from o2v.cutover.watch import StageReport
from o2v.store_routing import RoutingTable


def stage_question(
    stage: Stage, stages: list[Stage], table: RoutingTable, position: CutoverPosition, reports: list[StageReport]
) -> str:
    lines = [
        f"**Start {stage.name}** ({stage.index} of {len(stages)}): moves {stage.moves()} to vLLM.",
        f"Watched for {stage.watch_window_s:g} s, judged every {stage.interval_s:g} s on at least "
        f"{stage.min_samples} successful requests per side.",
        "",
        f"**Now:** routing table v{table.version}, {table.percent:g} % of unnamed clients on vLLM; "
        + (", ".join(f"{c} on {b}" for c, b in sorted(table.routes.items())) or "no named client routed"),
    ]
    if position.status in ("rejected", "timed-out", "rolled-back", "stopped"):
        lines += ["", f"**The last run stopped here:** {position.status}: {position.reason}"]
    for report in reports:
        lines += ["", *stage_report_lines(report)]
    if not reports:
        lines += ["", "No stage has been watched yet in this run; the validation's verdict is in its phase artifact."]
    return "\n".join(lines)


def stage_report_lines(report: StageReport) -> list[str]:
    t = report.traffic
    lines = [
        f"**{report.stage.name}: {report.end}** (worst interval: {report.worst or 'none'}) - {report.reason}",
        f"Traffic: {t.sent} sent, {t.ok} ok, {t.failed} failed; by backend {t.by_backend or {}}",
    ]
    if report.intervals:
        lines += ["", "| interval | outcome | canary | baseline | figures |", "|---|---|---|---|---|"]
        for i, item in enumerate(report.intervals, 1):
            figures = ", ".join(f"{k} {v:.3g}" for k, v in list(item.figures.items())[:3])
            lines.append(
                f"| {i} | {item.outcome} | {item.canary} | {item.baseline} ({item.baseline_source}) | {figures} |"
            )
    if report.failed_expectations:
        lines += ["", "Failed expectations:", *[f"- {m}" for m in report.failed_expectations]]
    if report.data_docs_url:
        lines.append(f"Data Docs: {report.data_docs_url}")
    return lines
