"""Run a suite over samples with Great Expectations and turn the validation into a Verdict.

One ephemeral GX context per process (GX takes seconds to import and set up), guarded by a lock because
Prefect may run tasks in threads. Each part of a suite is validated through a Checkpoint whose
UpdateDataDocsAction writes HTML into the caller's ``docs_dir``; the Verdict points at that site's index.html.

Decision: any expectation that failed with a measured value -> fail; else any figure that could not be
computed, or too few samples -> inconclusive; else pass. An empty window therefore never passes.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.frames import samples_frame
from checks.suites import Check, Part, build
from checks.verdict import FailedExpectation, Verdict, VerdictStatus
from o2v.config import ThresholdSettings
from o2v.store import RequestSample

if TYPE_CHECKING:
    import pandas as pd

_LOCK = threading.RLock()
_CONTEXT: Any = None
_DATASOURCE = "o2v"


def run_suite(
    suite_name: str,
    samples: Sequence[RequestSample] | pd.DataFrame,
    thresholds: ThresholdSettings,
    *,
    baseline: Sequence[RequestSample] | pd.DataFrame | None = None,
    docs_dir: str | Path | None = None,
) -> Verdict:
    """Validate ``samples`` (and the Ollama ``baseline`` for comparisons) against one suite."""
    frame = samples_frame(samples)
    base = samples_frame(baseline) if baseline is not None else None
    plan = build(suite_name, frame, thresholds, base)
    failures: list[FailedExpectation] = []
    uncomputable: list[str] = []
    figures: dict[str, float] = {}
    docs_path: str | None = None
    if plan.parts:
        with _LOCK:
            for part in plan.parts:
                outcomes = _validate(part, docs_dir)
                for check, success, observed in outcomes:
                    subject = "" if " vs " in part.subject else f"{part.subject} "
                    name = f"{subject}{check.figure}" + (" ms" if check.unit == "ms" else "")
                    if observed is not None:
                        figures[name] = observed
                    if success:
                        continue
                    message = _sentence(part, check, observed)
                    failures.append(
                        FailedExpectation(
                            expectation=_expectation_type(check),
                            column=check.column,
                            observed=observed,
                            threshold=check.limit,
                            message=message,
                        )
                    )
                    if observed is None:
                        uncomputable.append(message)
            if docs_dir is not None:
                docs_path = str(Path(docs_dir).resolve() / "index.html")
    measured = [f for f in failures if f.observed is not None]
    status: VerdictStatus
    if measured:
        status, reasons = "fail", [f.message for f in measured] + uncomputable + plan.inconclusive
    elif uncomputable or plan.inconclusive:
        status, reasons = "inconclusive", plan.inconclusive + uncomputable
    else:
        status, reasons = "pass", []
    return Verdict(
        status=status,
        suite=suite_name,
        sample_count=plan.sample_count,
        failures=failures,
        reasons=reasons,
        figures=figures,
        data_docs_path=docs_path,
    )


def _validate(part: Part, docs_dir: str | Path | None) -> list[tuple[Check, bool, float | None]]:
    import great_expectations as gx

    context = _context()
    batch_definition = _batch_definition(context)
    context.suites.add_or_update(gx.ExpectationSuite(name=part.name))
    suite = context.suites.get(part.name)
    for check in part.checks:
        suite.add_expectation(check.expectation())
    suite.save()
    token = uuid.uuid4().hex[:12]
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{part.name}-{token}", data=batch_definition, suite=suite)
    )
    actions: list[Any] = []
    if docs_dir is not None:
        actions.append(
            gx.checkpoint.UpdateDataDocsAction(name="data-docs", site_names=[_docs_site(context, docs_dir)])
        )
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
        context.checkpoints.delete(checkpoint.name)
        context.validation_definitions.delete(validation.name)
    (suite_result,) = result.run_results.values()
    by_figure = {check.figure: check for check in part.checks}
    outcomes: list[tuple[Check, bool, float | None]] = []
    for item in suite_result.results:
        check = by_figure[item.expectation_config.meta["figure"]]
        outcomes.append((check, bool(item.success), _observed(item.result)))
    return outcomes


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


def _sentence(part: Part, check: Check, observed: float | None) -> str:
    where = _where(part, check)
    if observed is None:
        return (
            f"{check.figure} could not be computed ({where}): no successful requests with that figure; "
            "the gate cannot decide on this window"
        )
    op = "<" if check.bound == "min" else ">"
    at = _worst_level(part, check)
    figure, limit = _fmt(observed, check.unit), _fmt(check.limit, check.unit)
    setting = f"thresholds.{check.setting}"
    return f"{check.figure} {figure} {op} {limit} threshold{at} ({where}); limit set by {setting}"


def _where(part: Part, check: Check) -> str:
    if check.column in ("p95_ratio", "throughput_ratio"):
        levels = len(part.frame)
        return f"{part.subject}, {levels} load level{'s' if levels != 1 else ''}"
    return f"{part.subject}, {len(part.frame)} samples"


def _worst_level(part: Part, check: Check) -> str:
    if check.column not in ("p95_ratio", "throughput_ratio") or part.frame.empty:
        return ""
    column = part.frame[check.column]
    row = part.frame.loc[column.idxmin() if check.bound == "min" else column.idxmax()]
    level = row["concurrency"]
    if level != level or level < 0:
        return ""
    detail = ""
    if check.column == "throughput_ratio":
        unit = row["throughput_unit"]
        detail = f", {row['candidate_throughput']:.1f} vs {row['baseline_throughput']:.1f} {unit}"
    else:
        detail = f", {_fmt(row['candidate_p95_e2e_ms'], 'ms')} vs {_fmt(row['baseline_p95_e2e_ms'], 'ms')}"
    return f" at concurrency {int(level)}{detail}"


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value / 1000:.1f} s" if abs(value) >= 1000 else f"{value:.0f} ms"
    if unit == "rate":
        return f"{value * 100:.1f} %"
    return f"{value:.2f}x"


def _expectation_type(check: Check) -> str:
    return {
        "p95": "expect_column_quantile_values_to_be_between",
        "mean": "expect_column_mean_to_be_between",
        "max": "expect_column_max_to_be_between",
        "min": "expect_column_min_to_be_between",
    }[check.stat]


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.data_sources.add_pandas(_DATASOURCE).add_dataframe_asset(
            "samples"
        ).add_batch_definition_whole_dataframe("window")
        _CONTEXT = context
    return _CONTEXT


def _batch_definition(context: Any) -> Any:
    return context.data_sources.get(_DATASOURCE).get_asset("samples").get_batch_definition("window")


def _docs_site(context: Any, docs_dir: str | Path) -> str:
    base = Path(docs_dir).resolve()
    name = "o2v-" + hashlib.sha1(str(base).encode()).hexdigest()[:10]
    if name not in (context.list_data_docs_sites() or {}):
        base.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            name,
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(base)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return name
