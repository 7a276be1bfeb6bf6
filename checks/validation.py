"""The validation suite: vLLM against Ollama at the same load, each ratio judged on its confidence interval.

Decision per figure, with B = the ratio limit x (1 + thresholds.ratio_tolerance):
  interval entirely above B  -> fail          (the data says vLLM is worse beyond the tolerance)
  interval entirely at or below B -> pass     (the data says vLLM is within it)
  interval straddling B      -> inconclusive  (more samples would narrow it; a person decides meanwhile)
GX evaluates the bounds: "low end <= B" is a failing expectation, "high end <= B" an inconclusive one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.frames import comparison_frame, error_difference_frame, for_backend, level_stats, short_levels
from checks.model import (
    Check,
    Part,
    SuitePlan,
    enough,
    error_increase_checks,
    interval_spec,
    latency_and_rates,
    ratio_checks,
)
from o2v.config import ThresholdSettings

if TYPE_CHECKING:
    import pandas as pd


def validation_suite(frame: pd.DataFrame, th: ThresholdSettings, baseline: pd.DataFrame | None) -> SuitePlan:
    """vLLM must meet the absolute limits, and the data must show it within tolerance of Ollama at every load level.

    Each vLLM/Ollama ratio is judged on its confidence interval against limit x (1 + ratio_tolerance): the low
    end above it fails, the high end above it (but not the low end) is inconclusive, both below it passes.
    """
    vllm = for_backend(frame, "vllm")
    ollama = for_backend(baseline if baseline is not None else frame, "ollama")
    plan = SuitePlan("validation", len(vllm) + len(ollama))
    if not (enough(plan, vllm, "vLLM", th) & enough(plan, ollama, "Ollama", th)):
        return plan
    plan.parts.append(
        Part(
            "validation.vllm",
            "vllm",
            vllm,
            latency_and_rates(vllm, th, p95_e2e_ms=th.p95_e2e_ms, setting="p95_e2e_ms"),
        )
    )
    stats = (level_stats(vllm), level_stats(ollama))
    compared = comparison_frame(vllm, ollama, min_samples=th.min_samples, spec=interval_spec(th), stats=stats)
    for level, (v_ok, o_ok) in short_levels(stats, min_samples=th.min_samples).items():
        plan.inconclusive.append(
            f"concurrency {_level(level)}: only {v_ok} successful vLLM and {o_ok} successful Ollama requests; "
            f"at least {th.min_samples} each (thresholds.min_samples) are needed to compare p95s at that level; "
            "raise loadtest.requests_per_level"
        )
    if compared.empty:
        plan.inconclusive.append(
            f"no load level has at least {th.min_samples} successful requests on both vLLM and Ollama, so the two "
            "cannot be compared at the same load; run the comparison with the same concurrency levels on both"
        )
        return plan
    _level_figures(plan, compared)
    # At concurrency 1 nothing queues, so the engines' single-stream speeds are compared with their own,
    # looser limit; the migration is judged where concurrency exists.
    single = compared[compared["concurrency"] < th.compare_from_concurrency]
    loaded = compared[compared["concurrency"] >= th.compare_from_concurrency]
    if not single.empty:
        limit, setting = th.max_single_stream_p95_ratio, "max_single_stream_p95_ratio"
        checks = ratio_checks(single, th, "single-stream ", limit, setting)
        plan.parts.append(Part("validation.single_stream", "vllm vs ollama", single, checks))
    plan.parts.append(_errors_part(vllm, ollama, compared, th))
    if loaded.empty:
        plan.inconclusive.append(
            f"no load level at concurrency >= {th.compare_from_concurrency} (thresholds.compare_from_concurrency) "
            "has enough samples on both sides; add such levels to loadtest.concurrency"
        )
        return plan
    checks = ratio_checks(loaded, th, "", th.max_vllm_to_ollama_p95_ratio, "max_vllm_to_ollama_p95_ratio")
    # Throughput is judged on the busy-slot estimate's interval (checks/intervals.py): the whole interval
    # below the floor fails, an interval reaching below it is inconclusive.
    floor, setting = (
        th.min_vllm_to_ollama_throughput_ratio / (1 + th.ratio_tolerance),
        "min_vllm_to_ollama_throughput_ratio",
    )
    pct = f"{th.confidence * 100:g} %"
    checks.append(
        Check(
            f"throughput ratio vLLM/Ollama, high end of {pct} interval",
            "busy_throughput_ratio_high",
            "min",
            floor,
            "ratio",
            setting,
        )
    )
    checks.append(
        Check(
            f"throughput ratio vLLM/Ollama, low end of {pct} interval",
            "busy_throughput_ratio_low",
            "min",
            floor,
            "ratio",
            setting,
            on_violation="inconclusive",
        )
    )
    plan.parts.append(Part("validation.comparison", "vllm vs ollama", loaded, checks))
    return plan


def _errors_part(vllm: pd.DataFrame, ollama: pd.DataFrame, compared: pd.DataFrame, th: ThresholdSettings) -> Part:
    rows = error_difference_frame(vllm, ollama, list(compared["concurrency"]), interval_spec(th))
    checks = error_increase_checks(th, "error rate increase vLLM-Ollama")
    return Part("validation.errors", "vllm vs ollama", rows, checks)


def _level_figures(plan: SuitePlan, compared: pd.DataFrame) -> None:
    for _, row in compared.iterrows():
        at = f"at concurrency {_level(row['concurrency'])}"
        for name, column in (("p95 e2e", "p95_ratio"), ("p95 TTFT", "ttft_ratio")):
            for suffix, key in (("", column), (" low", f"{column}_low"), (" high", f"{column}_high")):
                value = float(row[key])
                if value == value:
                    plan.figures[f"{name} ratio vLLM/Ollama {at}{suffix}"] = value
        plan.figures[f"throughput ratio vLLM/Ollama {at}"] = float(row["throughput_ratio"])
        for suffix in ("", "_low", "_high"):
            value = float(row[f"busy_throughput_ratio{suffix}"])
            if value == value:
                plan.figures[f"busy-slot throughput ratio vLLM/Ollama {at}{suffix.replace('_', ' ')}"] = value
    loaded = compared["p95_ratio"]
    plan.figures["p95 e2e ratio vLLM/Ollama"] = float(loaded.max())


def _level(level: float) -> str:
    return str(int(level)) if level == level and level >= 0 else "(not recorded)"
