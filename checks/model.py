"""The pieces a suite is made of: a Check (one expectation and the words for its outcome), a Part (one GX suite
over one DataFrame), a SuitePlan (the parts plus what already makes the verdict inconclusive), and the helpers
several suites share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from checks.intervals import IntervalSpec
from o2v.config import ThresholdSettings

if TYPE_CHECKING:
    import pandas as pd

Unit = Literal["ms", "rate", "ratio"]


@dataclass(frozen=True)
class Check:
    """One expectation and the words for its outcome."""

    figure: str  # "p95 e2e latency"
    column: str
    stat: Literal["p95", "mean", "max", "min"]
    limit: float
    unit: Unit
    setting: str  # the ThresholdSettings field that holds the limit, for the "what to do" part of a reason
    # What a violated expectation means: "fail" (the data says the limit is broken), or "inconclusive" (an
    # interval's far end crosses the limit: the data cannot say it holds, nor that it is broken).
    on_violation: Literal["fail", "inconclusive"] = "fail"

    @property
    def bound(self) -> Literal["max", "min"]:
        return "min" if self.stat == "min" else "max"

    def expectation(self) -> Any:
        import great_expectations.expectations as gxe

        meta = {"figure": self.figure, "setting": self.setting, "unit": self.unit}
        if self.stat == "p95":
            return _percentile_expectation()(
                column=self.column,
                allow_relative_error="linear",
                meta=meta,
                quantile_ranges={"quantiles": [0.95], "value_ranges": [[None, self.limit]]},
            )
        if self.stat == "mean":
            return gxe.ExpectColumnMeanToBeBetween(column=self.column, max_value=self.limit, meta=meta)
        if self.stat == "max":
            return gxe.ExpectColumnMaxToBeBetween(column=self.column, max_value=self.limit, meta=meta)
        return gxe.ExpectColumnMinToBeBetween(column=self.column, min_value=self.limit, meta=meta)


@dataclass
class Part:
    """One GX suite over one frame; ``subject`` names its rows in reasons ('ollama', 'vllm vs ollama')."""

    name: str
    subject: str
    frame: pd.DataFrame
    checks: list[Check]


@dataclass
class SuitePlan:
    suite: str
    sample_count: int
    parts: list[Part] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)  # shown with the verdict, not judged by themselves


def latency_and_rates(
    frame: pd.DataFrame, th: ThresholdSettings, *, p95_e2e_ms: float, setting: str
) -> list[Check]:
    checks = [
        Check("p95 e2e latency", "ok_e2e_ms", "p95", p95_e2e_ms, "ms", setting),
        Check("error rate", "is_error", "mean", th.max_error_rate, "rate", "max_error_rate"),
        Check("timeout rate", "is_timeout", "mean", th.max_timeout_rate, "rate", "max_timeout_rate"),
    ]
    if frame["ok_ttft_ms"].notna().any():  # TTFT only exists for streamed requests; log-derived rows lack it
        checks.insert(
            1, Check("p95 time to first token", "ok_ttft_ms", "p95", th.p95_ttft_ms, "ms", "p95_ttft_ms")
        )
    return checks


def enough(plan: SuitePlan, rows: pd.DataFrame, who: str, th: ThresholdSettings) -> bool:
    """Only successful requests carry a latency, so only they count toward a percentile's sample size."""
    ok = int(rows["ok"].sum()) if "ok" in rows else len(rows)
    if ok >= th.min_samples:
        return True
    failed = len(rows) - ok
    plus = f" (and {failed} failed)" if failed else ""
    plan.inconclusive.append(
        f"only {ok} successful {who} samples{plus} in the window; at least {th.min_samples} are needed "
        "(thresholds.min_samples) before this gate can decide"
    )
    return False


def interval_spec(th: ThresholdSettings) -> IntervalSpec:
    return IntervalSpec(confidence=th.confidence, resamples=th.bootstrap_resamples, seed=th.bootstrap_seed)


def ratio_checks(rows: pd.DataFrame, th: ThresholdSettings, label: str, limit: float, setting: str) -> list[Check]:
    """Low end above limit x (1 + tolerance): fail; high end above it: inconclusive. For p95 e2e and TTFT."""
    bound = limit * (1 + th.ratio_tolerance)
    checks = []
    metrics = [("p95 e2e", "p95_ratio")]
    if rows["ttft_ratio"].notna().all():  # streamed on both sides at every level; log-derived rows have no TTFT
        metrics.append(("p95 TTFT", "ttft_ratio"))
    for name, column in metrics:
        checks += _interval_checks(f"{label}{name} ratio vLLM/Ollama", column, bound, "ratio", setting, th)
    return checks


def error_increase_checks(th: ThresholdSettings, figure: str) -> list[Check]:
    """The error-rate increase's interval against max_error_rate_increase: low end above it fails, high end
    above it is inconclusive. ``figure`` names the two sides ("error rate increase vLLM-Ollama")."""
    return _interval_checks(
        figure, "error_rate_diff", th.max_error_rate_increase, "rate", "max_error_rate_increase", th
    )


def _interval_checks(
    figure: str, column: str, limit: float, unit: Unit, setting: str, th: ThresholdSettings
) -> list[Check]:
    pct = f"{th.confidence * 100:g} %"
    return [
        Check(f"{figure}, low end of {pct} interval", f"{column}_low", "max", limit, unit, setting),
        Check(
            f"{figure}, high end of {pct} interval",
            f"{column}_high",
            "max",
            limit,
            unit,
            setting,
            on_violation="inconclusive",
        ),
    ]


@lru_cache(maxsize=1)
def _percentile_expectation() -> type:
    """ExpectColumnQuantileValuesToBeBetween whose result holds plain Python values.

    GX 1.x compares the quantiles against numpy infinities, which leaves ``numpy.bool`` in the result; the
    validation-results store then fails to serialise it ("Object of type bool is not JSON serializable") under
    numpy 2. Everything else (metrics, renderers, Data Docs) is inherited unchanged.
    """
    import great_expectations.expectations as gxe

    class ExpectColumnPercentileValuesToBeBetween(gxe.ExpectColumnQuantileValuesToBeBetween):
        def _validate(
            self, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None
        ) -> dict:
            out = super()._validate(metrics, runtime_configuration, execution_engine)
            result = out["result"]
            values = result["observed_value"]["values"]
            result["observed_value"]["values"] = [_plain(v) for v in values]
            result["details"]["success_details"] = [bool(v) for v in result["details"]["success_details"]]
            out["success"] = bool(out["success"])
            return dict(out)

    return ExpectColumnPercentileValuesToBeBetween


def _plain(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number
