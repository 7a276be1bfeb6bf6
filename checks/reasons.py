"""The sentences a verdict gives: what was measured, where (which level, which figures), against which setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.model import Check, Part

if TYPE_CHECKING:
    import pandas as pd


def sentence(part: Part, check: Check, observed: float | None) -> str:
    """The reason a violated expectation gives; "" for an interval end whose whole interval is beyond the limit.

    A far end (``on_violation="inconclusive"``) speaks only for the levels whose interval straddles the limit;
    where the whole interval is beyond it, the near end's failing expectation already says so.
    """
    if check.on_violation == "inconclusive" and observed is not None and not part.frame.empty:
        rows = _straddling(part, check)
        if rows.empty:
            return ""
        part = Part(part.name, part.subject, rows, part.checks)
        values = rows[check.column]
        observed = float(values.min() if check.bound == "min" else values.max())
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
    if check.column.startswith(("p95_ratio_", "ttft_ratio_")):
        setting += " x (1 + thresholds.ratio_tolerance)"
    elif check.column.startswith("busy_throughput_ratio_"):
        setting += " / (1 + thresholds.ratio_tolerance)"
    sentence = f"{check.figure} {figure} {op} {limit} threshold{at} ({where}); limit set by {setting}"
    if check.on_violation == "inconclusive":
        sentence += (
            "; the interval straddles the limit, so the data can neither pass nor fail it: "
            "more requests per level (loadtest.requests_per_level) narrow it"
        )
    return sentence


def _straddling(part: Part, check: Check) -> pd.DataFrame:
    """Rows whose interval has one end on each side of the check's limit."""
    stem = check.column.rsplit("_", 1)[0]
    low, high = part.frame[f"{stem}_low"], part.frame[f"{stem}_high"]
    if check.bound == "max":  # the high end is judged: above the limit while the low end is not
        return part.frame[(high > check.limit) & (low <= check.limit)]
    return part.frame[(low < check.limit) & (high >= check.limit)]


_LEVEL_COLUMNS = ("p95_ratio", "ttft_ratio", "throughput_ratio", "busy_throughput_ratio")


def _where(part: Part, check: Check) -> str:
    if check.column.startswith(_LEVEL_COLUMNS):
        levels = len(part.frame)
        return f"{part.subject}, {levels} load level{'s' if levels != 1 else ''}"
    if check.column.startswith("error_rate_diff"):
        row = part.frame.iloc[0]
        return (
            f"{part.subject}, vLLM {_fmt(row['candidate_error_rate'], 'rate')} of "
            f"{int(row['candidate_requests'])} vs Ollama {_fmt(row['baseline_error_rate'], 'rate')} of "
            f"{int(row['baseline_requests'])} requests"
        )
    return f"{part.subject}, {len(part.frame)} samples"


def _worst_level(part: Part, check: Check) -> str:
    if not check.column.startswith(_LEVEL_COLUMNS) or part.frame.empty:
        return ""
    column = part.frame[check.column]
    row = part.frame.loc[column.idxmin() if check.bound == "min" else column.idxmax()]
    level = row["concurrency"]
    if level != level or level < 0:
        return ""
    if "throughput" in check.column:
        unit = row["throughput_unit"]
        detail = f", measured {row['candidate_throughput']:.1f} vs {row['baseline_throughput']:.1f} {unit}"
    else:
        detail = f", {_fmt(row['candidate_p95_e2e_ms'], 'ms')} vs {_fmt(row['baseline_p95_e2e_ms'], 'ms')}"
    if check.column.endswith(("_low", "_high")):
        stem = check.column.rsplit("_", 1)[0]
        interval = f", interval {_fmt(row[f'{stem}_low'], 'ratio')} .. {_fmt(row[f'{stem}_high'], 'ratio')}"
        detail = interval + (detail if stem in ("p95_ratio", "busy_throughput_ratio") else "")
    return f" at concurrency {int(level)}{detail}"


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value / 1000:.1f} s" if abs(value) >= 1000 else f"{value:.0f} ms"
    if unit == "rate":
        return f"{value * 100:.1f} %"
    return f"{value:.2f}x"


def expectation_type(check: Check) -> str:
    return {
        "p95": "expect_column_quantile_values_to_be_between",
        "mean": "expect_column_mean_to_be_between",
        "max": "expect_column_max_to_be_between",
        "min": "expect_column_min_to_be_between",
    }[check.stat]
