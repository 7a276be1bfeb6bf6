"""Run a suite over samples with Great Expectations and turn the validation into a Verdict.

Each part of a suite is validated through a Checkpoint. With a ``project_dir`` the GX project is file-backed
(checks/gx_project.py) and the Checkpoint's UpdateDataDocsAction adds this validation to the project's lasting
Data Docs site; without one an in-memory context validates and nothing is written.

Decision: any failing expectation with a measured value -> fail; else any figure that could not be computed,
too few samples, or an interval whose far end crosses its limit (``on_violation="inconclusive"``) ->
inconclusive; else pass. An empty window therefore never passes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.frames import samples_frame
from checks.gx_project import SITE, batch_definition, docs_index, docs_link, gx_context
from checks.model import Check, Part, SuitePlan
from checks.reasons import expectation_type, sentence
from checks.suites import build
from checks.verdict import ExpectationOutcome, FailedExpectation, Verdict, VerdictStatus
from o2v.config import ThresholdSettings
from o2v.store import RequestSample

if TYPE_CHECKING:
    import pandas as pd


def run_suite(
    suite_name: str,
    samples: Sequence[RequestSample] | pd.DataFrame,
    thresholds: ThresholdSettings,
    *,
    baseline: Sequence[RequestSample] | pd.DataFrame | None = None,
    project_dir: str | Path | None = None,
    docs_base_url: str | None = None,
) -> Verdict:
    """Validate ``samples`` (and the Ollama ``baseline`` for comparisons) against one suite.

    ``project_dir``: the file-backed GX project whose Data Docs keep this validation (None: nothing written).
    ``docs_base_url``: where that project's ``data_docs`` folder is served; links are file paths without it.
    """
    frame = samples_frame(samples)
    base = samples_frame(baseline) if baseline is not None else None
    plan = build(suite_name, frame, thresholds, base)
    root = Path(project_dir).resolve() if project_dir is not None else None
    results: list[tuple[Part, list[Outcome]]] = []
    pages: list[str] = []
    if plan.parts:
        with gx_context(root) as context:
            for part in plan.parts:
                outcomes, page = _validate(context, part, docs=root is not None)
                results.append((part, outcomes))
                pages += [page] if page else []
    verdict = decide(plan, results)
    index = str(docs_index(root)) if root is not None and plan.parts else None
    verdict.data_docs_path = index
    verdict.data_docs_url = docs_link(index, root, docs_base_url)
    verdict.data_docs_pages = [docs_link(p, root, docs_base_url) or p for p in pages]
    return verdict


def judge_without_gx(
    suite_name: str,
    samples: Sequence[RequestSample] | pd.DataFrame,
    thresholds: ThresholdSettings,
    *,
    baseline: Sequence[RequestSample] | pd.DataFrame | None = None,
) -> Verdict:
    """The same plan and decision as :func:`run_suite`, each expectation evaluated with pandas instead of GX.

    For simulations that judge thousands of windows (benchmarks/validation_gate_error_rates.py), where GX's
    per-validation overhead would dominate; a unit test holds the two to the same verdicts.
    """
    frame = samples_frame(samples)
    base = samples_frame(baseline) if baseline is not None else None
    plan = build(suite_name, frame, thresholds, base)
    return decide(plan, [(part, [_evaluate(part, check) for check in part.checks]) for part in plan.parts])


Outcome = tuple[Check, bool, float | None]


def decide(plan: SuitePlan, results: Sequence[tuple[Part, Sequence[Outcome]]]) -> Verdict:
    """Turn every expectation's (held?, observed) into the three-valued verdict with its reasons and figures."""
    failures: list[FailedExpectation] = []
    expectations: list[ExpectationOutcome] = []
    undecided: list[str] = []
    figures: dict[str, float] = {}
    for part, outcomes in results:
        for check, success, observed in outcomes:
            subject = "" if " vs " in part.subject else f"{part.subject} "
            name = f"{subject}{check.figure}" + (" ms" if check.unit == "ms" else "")
            if observed is not None:
                figures[name] = observed
            message = "" if success else sentence(part, check, observed)
            expectations.append(_outcome(part, check, success, observed, message))
            if success:
                continue
            if check.on_violation == "inconclusive" and observed is not None:
                if message:  # "" when the interval is wholly beyond the limit: its near end failed already
                    undecided.append(message)
                continue
            failures.append(
                FailedExpectation(
                    expectation=expectation_type(check),
                    column=check.column,
                    observed=observed,
                    threshold=check.limit,
                    message=message,
                )
            )
            if observed is None:
                undecided.append(message)
    measured = [f for f in failures if f.observed is not None]
    status: VerdictStatus
    if measured:
        status, reasons = "fail", [f.message for f in measured] + undecided + plan.inconclusive
    elif undecided or plan.inconclusive:
        status, reasons = "inconclusive", plan.inconclusive + undecided
    else:
        status, reasons = "pass", []
    return Verdict(
        status=status,
        suite=plan.suite,
        sample_count=plan.sample_count,
        failures=failures,
        reasons=reasons,
        figures={**plan.figures, **figures},
        expectations=expectations,
    )


def _evaluate(part: Part, check: Check) -> Outcome:
    import numpy as np

    values = part.frame[check.column].dropna().to_numpy(float)
    if len(values) == 0:
        return check, False, None
    if check.stat == "p95":
        observed = float(np.quantile(values, 0.95))
    else:
        observed = float(
            np.mean(values) if check.stat == "mean" else np.max(values) if check.stat == "max" else np.min(values)
        )
    held = observed >= check.limit if check.bound == "min" else observed <= check.limit
    return check, held, observed


def _validate(context: Any, part: Part, *, docs: bool) -> tuple[list[Outcome], str | None]:
    import great_expectations as gx

    context.suites.add_or_update(gx.ExpectationSuite(name=part.name))
    suite = context.suites.get(part.name)
    for check in part.checks:
        suite.add_expectation(check.expectation())
    suite.save()
    token = uuid.uuid4().hex[:12]
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{part.name}-{token}", data=batch_definition(context), suite=suite)
    )
    actions: list[Any] = []
    if docs:
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="data-docs", site_names=[SITE]))
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{part.name}-{token}",
            validation_definitions=[validation],
            actions=actions,
            result_format="SUMMARY",
        )
    )
    try:
        result = checkpoint.run(batch_parameters={"dataframe": part.frame})
    finally:
        # The results stay in the project; definitions are per run and would only pile up.
        context.checkpoints.delete(checkpoint.name)
        context.validation_definitions.delete(validation.name)
    ((identifier, suite_result),) = result.run_results.items()
    by_figure = {check.figure: check for check in part.checks}
    outcomes: list[Outcome] = []
    for item in suite_result.results:
        check = by_figure[item.expectation_config.meta["figure"]]
        outcomes.append((check, bool(item.success), _observed(item.result)))
    return outcomes, _page(context, identifier) if docs else None


def _page(context: Any, identifier: Any) -> str | None:
    """The Data Docs page of one validation result (GX names it after the result's key)."""
    site = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE)
    url = site[0].get("site_url") if site else None
    if not url:
        return None
    return url.removeprefix("file://")


def _observed(result: dict[str, Any]) -> float | None:
    value = result.get("observed_value")
    if isinstance(value, dict):  # quantile expectations: {"quantiles": [...], "values": [...]}
        values = value.get("values") or [None]
        value = values[0]
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN: nothing to measure (e.g. no successful requests)


def _outcome(part: Part, check: Check, success: bool, observed: float | None, message: str) -> ExpectationOutcome:
    return ExpectationOutcome(
        part=part.name,
        figure=check.figure,
        expectation=expectation_type(check),
        column=check.column,
        observed=observed,
        limit=check.limit,
        bound=check.bound,
        success=success,
        on_violation=check.on_violation,
        message=message,
    )
