"""Phase 7: the same load on both endpoints; the Great Expectations suites decide, and a 'no' rolls back."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from o2v.deploy import Deployment
from o2v.errors import GateFailed
from o2v.plan import MigrationPlan
from tasks.common import LevelProgress, MigrationContext, file_link, run_phase, table_artifact


class ValidationResult(BaseModel):
    verdict: str
    reasons: list[str]
    figures: dict[str, float]
    report_dir: str
    report_files: dict[str, str]
    data_docs_path: str | None = None

    def to_markdown(self) -> str:
        """The artifact: every figure the suite judged, the comparison table, and where plots and Data Docs are."""
        lines = ["| figure | observed |", "|---|---|"]
        lines += [f"| {name} | {value:.3g} |" for name, value in sorted(self.figures.items())]
        markdown = self.report_files.get("markdown")
        if markdown and Path(markdown).exists():
            lines += ["", Path(markdown).read_text(encoding="utf-8")]
        lines += ["", "**Files**", ""]
        lines += [f"- {kind}: {file_link(path)}" for kind, path in sorted(self.report_files.items())]
        if self.data_docs_path:
            lines.append(f"- Great Expectations Data Docs: {file_link(self.data_docs_path)}")
        return "\n".join(lines)


@task(name="validate", task_run_name="validate-{ctx.migration_id}", cache_policy=NO_CACHE, timeout_seconds=7200)
def validate_phase(ctx: MigrationContext, plan: MigrationPlan, deployment: Deployment) -> ValidationResult:
    def work() -> ValidationResult:
        from checks.runner import run_suite
        from flows.rollback import roll_back
        from o2v.loadgen.compare import run_comparison
        from o2v.loadgen.report import COMPARE_COLUMNS, compare_rows

        out_dir = ctx.reports_dir / "comparison"
        progress = LevelProgress("validate-progress", 2 * len(ctx.settings.loadtest.concurrency), "load levels done")
        report = run_comparison(
            ctx.settings,
            store=ctx.store,
            out_dir=out_dir,
            model=plan.primary.ollama_tag,
            vllm_url=deployment.url,
            vllm_model=plan.served_model_names[0],
            vllm_max_num_seqs=plan.side_by_side.max_num_seqs,
            on_level=progress,
        )
        progress.finish()
        columns = [c.replace("-\n", "").replace("\n", " ") for c in COMPARE_COLUMNS]
        table_artifact("comparison", columns, compare_rows(report), "Ollama and vLLM side by side, per level")
        verdict = run_suite(
            "validation",
            report.vllm.samples,
            ctx.settings.thresholds,
            baseline=report.ollama.samples,
            docs_dir=ctx.reports_dir / "data_docs",
        )
        if verdict.status != "pass":
            roll_back(ctx.settings, ctx.store, reason=f"validation {verdict.status}", actor="o2v-validate")
            ctx.notifier.alert(
                f"Migration {ctx.migration_id}: validation {verdict.status}; vLLM rolled back, clients stay on "
                "Ollama. " + "; ".join(verdict.reasons[:5])
            )
            raise GateFailed("validation suite", verdict.reasons or [f"verdict {verdict.status}"])
        return ValidationResult(
            verdict=verdict.status, reasons=verdict.reasons, figures=verdict.figures, report_dir=str(out_dir),
            report_files=report.files, data_docs_path=verdict.data_docs_path,
        )

    return run_phase(ctx, "validate", work, ValidationResult, figures=_figures)


def _figures(result: ValidationResult) -> dict[str, str]:
    return {"verdict": result.verdict, "report": result.report_dir, "data docs": result.data_docs_path or "-"}
