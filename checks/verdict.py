"""What a Great Expectations validation decided, in a form every phase, message and report can read.

A Verdict is deliberately three-valued: ``inconclusive`` is not a weaker ``pass``. A window with too few
samples (or a figure that could not be computed) hands the decision back to a person instead of letting a
quiet stage through, as Kayenta's ``mustHaveData`` and Argo's NaN handling do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from o2v.errors import GateFailed

VerdictStatus = Literal["pass", "fail", "inconclusive"]


class FailedExpectation(BaseModel):
    """One expectation that did not hold, with the figure that decided it."""

    expectation: str = Field(
        ..., description="GX expectation type, e.g. expect_column_quantile_values_to_be_between."
    )
    column: str | None = Field(None, description="Column of the batch the expectation read.")
    observed: float | None = Field(
        None, description="The value measured; None when it could not be computed."
    )
    threshold: float | None = Field(None, description="The limit it was held to (a maximum or a minimum).")
    message: str = Field(..., description="One readable sentence with the figures.")


class ExpectationOutcome(BaseModel):
    """Every expectation a suite evaluated, held or not, with its observed value (for reports and the CLI)."""

    part: str = Field(..., description="The GX suite (part) it belongs to, e.g. validation.comparison.")
    figure: str = Field(..., description="What it measures, in words.")
    expectation: str = Field(..., description="GX expectation type.")
    column: str
    observed: float | None = Field(None, description="Observed value; None when it could not be computed.")
    limit: float
    bound: Literal["max", "min"] = Field(..., description="Whether the limit is a maximum or a minimum.")
    success: bool
    on_violation: Literal["fail", "inconclusive"] = Field(
        "fail", description="What a violation means: a failed gate, or an interval the data cannot decide."
    )
    message: str = Field("", description="The reason sentence when it did not hold.")


class Verdict(BaseModel):
    """The outcome of one suite over one window of samples."""

    status: VerdictStatus
    suite: str
    sample_count: int = Field(0, ge=0, description="Samples in the judged window (all backends).")
    failures: list[FailedExpectation] = Field(default_factory=list)
    reasons: list[str] = Field(
        default_factory=list, description="Readable sentences: why fail or inconclusive."
    )
    figures: dict[str, float] = Field(
        default_factory=dict,
        description="Every observed figure by name (e.g. 'ollama p95 e2e ms'), pass or fail.",
    )
    data_docs_path: str | None = Field(
        None, description="index.html of the GX Data Docs built for this validation."
    )
    data_docs_url: str | None = Field(
        None, description="Link to that index: store.data_docs_base_url + path in the site, else the file path."
    )
    data_docs_pages: list[str] = Field(
        default_factory=list, description="Links to this validation's own Data Docs pages, one per suite part."
    )
    expectations: list[ExpectationOutcome] = Field(
        default_factory=list, description="Every expectation evaluated, with its observed value."
    )

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def summary(self) -> str:
        """One line for logs and Slack: status, suite, count and the first reasons."""
        head = f"{self.suite}: {self.status} ({self.sample_count} samples)"
        if not self.reasons:
            return head
        more = f" (+{len(self.reasons) - 3} more)" if len(self.reasons) > 3 else ""
        return head + " - " + "; ".join(self.reasons[:3]) + more

    def raise_for_status(self, *, allow_inconclusive: bool = False) -> None:
        """Raise GateFailed with every reason unless the suite passed; gates call this to stop a phase."""
        if self.status == "pass" or (self.status == "inconclusive" and allow_inconclusive):
            return
        label = f"GX suite {self.suite!r} ({self.status})"
        raise GateFailed(label, self.reasons or [f"{self.suite} did not pass"])

    def to_markdown(self) -> str:
        """A Prefect artifact body: the verdict, the reasons and every figure."""
        lines = [f"**Verdict:** {self.status} - suite `{self.suite}` over {self.sample_count} samples", ""]
        if self.reasons:
            lines += ["**Reasons:**", *[f"- {r}" for r in self.reasons], ""]
        if self.figures:
            lines += ["| figure | observed |", "|---|---|"]
            lines += [f"| {name} | {value:.4g} |" for name, value in self.figures.items()]
            lines.append("")
        if self.data_docs_path:
            link = self.data_docs_url or self.data_docs_path
            shown = f"[{link}]({link})" if "://" in link else f"`{link}`"
            lines.append(f"Great Expectations Data Docs: {shown}")
        return "\n".join(lines)
