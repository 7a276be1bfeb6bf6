"""The suites, written as code: which figures each gate reads, from which rows, held to which threshold.

Each suite is a plan of one or more *parts*; a part is one GX expectation suite over one DataFrame (the judged
backend's request rows, or the per-level comparison rows). Thresholds come from ``ThresholdSettings`` at run
time, so changing ``migration.yaml`` changes the gate without touching code.

  baseline   Ollama's own rows: has the endpoint been outgrown?  p95 e2e, queue share, timeout and error rate
  validation vLLM against Ollama at the same load: vLLM's p95 e2e/TTFT, error and timeout rate, and per level
             vLLM p95 / Ollama p95 and vLLM throughput / Ollama throughput
  stability  vLLM over a watch window: p95 e2e/TTFT, error and timeout rate, p95 against the Ollama baseline
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from checks.frames import comparison_frame, for_backend
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


def build(
    suite: str, frame: pd.DataFrame, thresholds: ThresholdSettings, baseline: pd.DataFrame | None = None
) -> SuitePlan:
    try:
        builder = SUITES[suite]
    except KeyError:
        from o2v.errors import ConfigError

        raise ConfigError([f"unknown GX suite {suite!r}: expected one of {sorted(SUITES)}"]) from None
    return builder(frame, thresholds, baseline)


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


def baseline_suite(frame: pd.DataFrame, th: ThresholdSettings, _baseline: pd.DataFrame | None) -> SuitePlan:
    """Ollama is outgrown when any of these fails; pass means the endpoint still copes."""
    ollama = for_backend(frame, "ollama")
    plan = SuitePlan("baseline", len(ollama))
    if not _enough(plan, ollama, "Ollama", th):
        return plan
    checks = [
        Check("p95 e2e latency", "ok_e2e_ms", "p95", th.outgrown_p95_e2e_ms, "ms", "outgrown_p95_e2e_ms"),
        Check(
            "queue share of latency",
            "queue_share",
            "mean",
            th.outgrown_queue_share,
            "rate",
            "outgrown_queue_share",
        ),
        Check("timeout rate", "is_timeout", "mean", th.max_timeout_rate, "rate", "max_timeout_rate"),
        Check("error rate", "is_error", "mean", th.max_error_rate, "rate", "max_error_rate"),
    ]
    plan.parts.append(Part("baseline.ollama", "ollama", ollama, checks))
    return plan


def validation_suite(frame: pd.DataFrame, th: ThresholdSettings, baseline: pd.DataFrame | None) -> SuitePlan:
    """vLLM must meet the absolute limits and beat Ollama at every load level both were measured at."""
    vllm = for_backend(frame, "vllm")
    ollama = for_backend(baseline if baseline is not None else frame, "ollama")
    plan = SuitePlan("validation", len(vllm) + len(ollama))
    if not (_enough(plan, vllm, "vLLM", th) & _enough(plan, ollama, "Ollama", th)):
        return plan
    plan.parts.append(
        Part(
            "validation.vllm",
            "vllm",
            vllm,
            latency_and_rates(vllm, th, p95_e2e_ms=th.p95_e2e_ms, setting="p95_e2e_ms"),
        )
    )
    compared = comparison_frame(vllm, ollama, min_samples=th.min_samples)
    if compared.empty:
        plan.inconclusive.append(
            f"no load level has at least {th.min_samples} samples on both vLLM and Ollama, so the two "
            "cannot be compared at the same load; run the comparison with the same concurrency levels on both"
        )
        return plan
    # At concurrency 1 nothing queues, so the engines' single-stream speeds are compared with their own,
    # looser limit; the migration is judged where concurrency exists.
    single = compared[compared["concurrency"] < th.compare_from_concurrency]
    loaded = compared[compared["concurrency"] >= th.compare_from_concurrency]
    if not single.empty:
        plan.parts.append(
            Part(
                "validation.single_stream",
                "vllm vs ollama",
                single,
                [
                    Check(
                        "single-stream p95 e2e ratio vLLM/Ollama",
                        "p95_ratio",
                        "max",
                        th.max_single_stream_p95_ratio,
                        "ratio",
                        "max_single_stream_p95_ratio",
                    ),
                ],
            )
        )
    if loaded.empty:
        plan.inconclusive.append(
            f"no load level at concurrency >= {th.compare_from_concurrency} (thresholds.compare_from_concurrency) "
            "has enough samples on both sides; add such levels to loadtest.concurrency"
        )
        return plan
    plan.parts.append(
        Part(
            "validation.comparison",
            "vllm vs ollama",
            loaded,
            [
                Check(
                    "p95 e2e ratio vLLM/Ollama",
                    "p95_ratio",
                    "max",
                    th.max_vllm_to_ollama_p95_ratio,
                    "ratio",
                    "max_vllm_to_ollama_p95_ratio",
                ),
                Check(
                    "throughput ratio vLLM/Ollama",
                    "throughput_ratio",
                    "min",
                    th.min_vllm_to_ollama_throughput_ratio,
                    "ratio",
                    "min_vllm_to_ollama_throughput_ratio",
                ),
            ],
        )
    )
    return plan


def stability_suite(frame: pd.DataFrame, th: ThresholdSettings, baseline: pd.DataFrame | None) -> SuitePlan:
    """vLLM over a watch window; against the Ollama baseline's p95 when a baseline is given."""
    vllm = for_backend(frame, "vllm")
    plan = SuitePlan("stability", len(vllm))
    if not _enough(plan, vllm, "vLLM", th):
        return plan
    plan.parts.append(
        Part(
            "stability.vllm",
            "vllm",
            vllm,
            latency_and_rates(vllm, th, p95_e2e_ms=th.p95_e2e_ms, setting="p95_e2e_ms"),
        )
    )
    if baseline is not None:
        ollama = for_backend(baseline, "ollama")
        if len(ollama) < th.min_samples:
            plan.inconclusive.append(
                f"the Ollama baseline has only {len(ollama)} samples; at least {th.min_samples} are needed "
                "(thresholds.min_samples) to compare vLLM with it"
            )
            return plan
        # Over a watch window the load is whatever the team sent, so compare the whole window, not per level.
        compared = comparison_frame(
            vllm.assign(concurrency=float("nan")), ollama.assign(concurrency=float("nan")), min_samples=1
        )
        plan.parts.append(
            Part(
                "stability.baseline",
                "vllm vs ollama baseline",
                compared,
                [
                    Check(
                        "p95 e2e ratio vLLM/Ollama",
                        "p95_ratio",
                        "max",
                        th.max_vllm_to_ollama_p95_ratio,
                        "ratio",
                        "max_vllm_to_ollama_p95_ratio",
                    ),
                ],
            )
        )
    return plan


def _enough(plan: SuitePlan, rows: pd.DataFrame, who: str, th: ThresholdSettings) -> bool:
    if len(rows) >= th.min_samples:
        return True
    plan.inconclusive.append(
        f"only {len(rows)} {who} samples in the window; at least {th.min_samples} are needed "
        "(thresholds.min_samples) before this gate can decide"
    )
    return False


SUITES: dict[str, Callable[[pd.DataFrame, ThresholdSettings, pd.DataFrame | None], SuitePlan]] = {
    "baseline": baseline_suite,
    "validation": validation_suite,
    "stability": stability_suite,
}


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
