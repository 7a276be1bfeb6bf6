"""Phase 7: the same load on both endpoints; the Great Expectations suite decides what the data supports.

pass -> the phase succeeds. fail (the data says vLLM is worse beyond the tolerance) -> vLLM is rolled back and
the phase fails. inconclusive (the intervals straddle a limit, or too few samples) never rolls back: by
``thresholds.on_inconclusive`` the flow run pauses for a person (re-measure / accept / roll back, see
tasks/approval.py), or fails leaving vLLM running, or accepts (audited). Outside a flow run 'pause' acts as
'fail': nobody is there to answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from checks.verdict import Verdict
from o2v.deploy import Deployment
from o2v.errors import GateFailed, PhaseError
from o2v.loadgen.comparison import ComparisonReport
from o2v.loadgen.metrics import LoadTestResult
from o2v.plan import MigrationPlan
from o2v.servers.traffic import OllamaTraffic
from tasks.approval import Decision, NoAnswer, ask, record
from tasks.common import MigrationContext, run_phase


class ValidationDecision(Decision):
    """The form an inconclusive validation shows in the Prefect UI."""

    choice: Literal["re-measure", "accept", "roll back"] = Field(
        ...,
        description="re-measure: run the comparison again; accept: pass this phase on your word; "
        "roll back: take vLLM down, clients stay on Ollama.",
    )


class ValidationResult(BaseModel):
    verdict: str = Field(..., description="pass, or 'accepted' when a person (or the policy) let it through.")
    reasons: list[str]
    figures: dict[str, float]
    report_dir: str
    report_files: dict[str, str]
    data_docs_path: str | None = None
    data_docs_url: str | None = None
    comparison_id: str | None = Field(None, description="`o2v check validation --run <id>` re-judges the data.")
    ollama_traffic: str = Field("", description="Other traffic Ollama carried during its measurement.")
    attempts: int = 1
    decided_by: str | None = None

    def to_markdown(self) -> str:
        """The artifact: every figure the suite judged, the comparison table, and where plots and Data Docs are."""
        lines = [f"**Verdict:** {self.verdict} after {self.attempts} measurement(s)", ""]
        if self.decided_by:
            lines += [f"Accepted by {self.decided_by} although the data was inconclusive:", ""]
            lines += [f"- {r}" for r in self.reasons] + [""]
        lines += [f"**Ollama's other traffic:** {self.ollama_traffic}", ""]
        lines += ["| figure | observed |", "|---|---|"]
        lines += [f"| {name} | {value:.3g} |" for name, value in sorted(self.figures.items())]
        markdown = self.report_files.get("markdown")
        if markdown and Path(markdown).exists():
            lines += ["", Path(markdown).read_text(encoding="utf-8")]
        lines += ["", "**Files**", ""] + [f"- {kind}: `{path}`" for kind, path in sorted(self.report_files.items())]
        if self.data_docs_url:
            lines.append(f"- Great Expectations Data Docs: {self.data_docs_url}")
        if self.comparison_id:
            lines.append(f"- re-judge: `o2v check validation --run {self.comparison_id}`")
        return "\n".join(lines)


@dataclass
class Measurement:
    report: ComparisonReport
    verdict: Verdict
    traffic: OllamaTraffic


# No task timeout: the run may wait for a person (up to slack.approval_timeout_s, which may be days) and measure
# again; each measurement is bounded by its request count and loadtest.request_timeout_s.
@task(name="validate", cache_policy=NO_CACHE)
def validate_phase(ctx: MigrationContext, plan: MigrationPlan, deployment: Deployment) -> ValidationResult:
    def work() -> ValidationResult:
        attempt = 1
        while True:
            measured = measure(ctx, plan, deployment, attempt)
            verdict = measured.verdict
            if verdict.status == "pass":
                return _result(measured, attempt)
            if verdict.status == "fail":
                _roll_back(
                    ctx, f"validation failed: {verdict.reasons[0] if verdict.reasons else 'fail'}", "o2v-validate"
                )
                raise GateFailed("validation suite", verdict.reasons or ["verdict fail"])
            choice, decision = _inconclusive(ctx, measured, attempt)
            if choice == "re-measure":
                attempt += 1
                continue
            if choice == "accept":
                who = _who(decision) if decision else "policy (thresholds.on_inconclusive=accept)"
                return _result(measured, attempt, decided_by=who)
            if choice == "roll back":
                _roll_back(ctx, "validation inconclusive; a person chose to roll back", _who(decision))
            else:
                ctx.notifier.alert(
                    f"Migration {ctx.migration_id}: validation inconclusive; vLLM left running at "
                    f"{deployment.url} for a decision (re-run migrate to re-measure, or run rollback). "
                    + "; ".join(verdict.reasons[:3]),
                    flow_run_url=ctx.flow_run_url,
                )
            raise _inconclusive_error(choice, verdict, deployment)

    return run_phase(ctx, "validate", work, ValidationResult, figures=_figures)


def measure(ctx: MigrationContext, plan: MigrationPlan, deployment: Deployment, attempt: int) -> Measurement:
    """One comparison run, judged; plus the other traffic Ollama's log shows for its window."""
    from checks.gx_project import project_dir_for
    from checks.runner import run_suite
    from o2v.loadgen.compare import run_comparison
    from o2v.servers.traffic import ollama_traffic

    out_dir = ctx.reports_dir / ("comparison" if attempt == 1 else f"comparison-{attempt}")
    report = run_comparison(
        ctx.settings,
        store=ctx.store,
        out_dir=out_dir,
        model=plan.primary.ollama_tag,
        vllm_url=deployment.url,
        vllm_model=plan.served_model_names[0],
        vllm_max_num_seqs=plan.side_by_side.max_num_seqs,
    )
    verdict = run_suite(
        "validation",
        report.vllm.samples,
        ctx.settings.thresholds,
        baseline=report.ollama.samples,
        project_dir=project_dir_for(ctx.settings),
        docs_base_url=ctx.settings.store.data_docs_base_url,
    )
    ollama = report.ollama
    traffic = ollama_traffic(
        ctx.settings,
        start=ollama.started,
        end=ollama.finished or ollama.started,
        own_requests=requests_sent(ollama),
    )
    return Measurement(report, verdict, traffic)


def requests_sent(result: LoadTestResult) -> int:
    """Inference requests a load test sent: the measured ones and the warm-ups (the preflight only GETs)."""
    workload = result.workload
    return len(result.samples) + max(workload.warmup_requests, 1 if workload.preflight else 0)


def evidence_markdown(ctx: MigrationContext, measured: Measurement, attempt: int) -> str:
    """What the person sees on the pause form: the verdict, why, the intervals per level, and the links."""
    verdict, report = measured.verdict, measured.report
    lines = [
        f"## Validation of migration `{ctx.migration_id}` is inconclusive (measurement {attempt})",
        "",
        "The data cannot say that vLLM is within the limits, nor that it is worse. Nothing was rolled back.",
        "",
        "**Why:**",
        *[f"- {reason}" for reason in verdict.reasons],
        "",
        f"**Ollama's other traffic:** {measured.traffic.sentence()}",
        "",
        "| figure | observed |",
        "|---|---|",
        *[f"| {name} | {value:.3g} |" for name, value in verdict.figures.items() if "concurrency" in name],
        "",
        f"Comparison report: `{report.files.get('markdown', report.out_dir)}`",
    ]
    if verdict.data_docs_url:
        lines.append(f"Great Expectations Data Docs: {verdict.data_docs_url}")
    lines += [
        f"Re-judge from a shell: `o2v check validation --run {report.comparison_id}`",
        "",
        "**Choose:** *re-measure* (run the comparison again; more data narrows the intervals), *accept* (pass this "
        "phase on your word; recorded with your name and comment), or *roll back* (take vLLM down).",
    ]
    return "\n".join(lines)


def _inconclusive(ctx: MigrationContext, measured: Measurement, attempt: int) -> tuple[str, ValidationDecision | None]:
    policy = ctx.settings.thresholds.on_inconclusive
    target = ctx.settings.vllm.container_name
    detail = {"migration_id": ctx.migration_id, "reasons": measured.verdict.reasons[:5], "attempt": attempt}
    if policy == "accept":
        ctx.store.audit("o2v-policy (thresholds.on_inconclusive=accept)", "accept-inconclusive", target, detail)
        return "accept", None
    if policy == "fail":
        return "fail", None
    ctx.notifier.alert(
        f"Migration {ctx.migration_id}: validation inconclusive; the run is paused for a decision in Prefect "
        "(re-measure, accept or roll back). " + "; ".join(measured.verdict.reasons[:3]),
        flow_run_url=ctx.flow_run_url,
    )
    timeout = ctx.settings.slack.approval_timeout_s
    try:
        decision = ask(ValidationDecision, evidence_markdown(ctx, measured, attempt), timeout_s=timeout,
                       key=f"validate-{attempt}")  # fmt: skip
    except NoAnswer:
        ctx.store.audit("o2v-validate", "no-decision", target, detail | {"timeout_s": timeout})
        return "no decision in time", None
    if decision is None:  # not in a flow run: nobody to ask
        return "fail", None
    record(ctx.store, decision, action=f"validation-{decision.choice.replace(' ', '-')}", target=target, detail=detail)
    return decision.choice, decision


def _inconclusive_error(choice: str, verdict: Verdict, deployment: Deployment) -> PhaseError:
    reason = f"validation suite inconclusive ({choice}): " + "; ".join(verdict.reasons or ["inconclusive"])
    if choice == "roll back":
        return PhaseError("validate", reason, "vLLM was rolled back as decided; clients stay on Ollama")
    hint = (
        f"vLLM is still running at {deployment.url}; re-run migrate (from_phase=validate) to measure again with "
        "more requests per level, or run the rollback flow"
    )
    return PhaseError("validate", reason, hint)


def _roll_back(ctx: MigrationContext, reason: str, actor: str) -> None:
    from o2v.rollback import roll_back

    roll_back(ctx.settings, ctx.store, reason=reason, actor=actor)
    ctx.notifier.alert(
        f"Migration {ctx.migration_id}: {reason}; vLLM rolled back, clients stay on Ollama.",
        flow_run_url=ctx.flow_run_url,
    )


def _who(decision: ValidationDecision | None) -> str:
    return (decision.decided_by.strip() if decision else "") or "prefect-ui (unnamed)"


def _result(measured: Measurement, attempts: int, decided_by: str | None = None) -> ValidationResult:
    verdict, report = measured.verdict, measured.report
    return ValidationResult(
        verdict="accepted" if decided_by is not None else verdict.status,
        reasons=verdict.reasons,
        figures=verdict.figures,
        report_dir=report.out_dir,
        report_files=report.files,
        data_docs_path=verdict.data_docs_path,
        data_docs_url=verdict.data_docs_url,
        comparison_id=report.comparison_id,
        ollama_traffic=measured.traffic.sentence(),
        attempts=attempts,
        decided_by=decided_by,
    )


def _figures(result: ValidationResult) -> dict[str, str]:
    return {
        "verdict": result.verdict,
        "report": result.report_dir,
        "ollama's other traffic": result.ollama_traffic,
        "data docs": result.data_docs_url or "-",
    }
