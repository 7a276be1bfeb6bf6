"""The cutover suite: live traffic of the clients on vLLM (canary) against the clients on Ollama (baseline).

The same rules as the validation gate (checks/validation.py), over one analysis window instead of per load
level, since live traffic has no fixed concurrency:

  p95 e2e and TTFT ratio canary/baseline: bootstrap interval against max_vllm_to_ollama_p95_ratio x (1 +
      ratio_tolerance); low end above it fails, high end above it is inconclusive
  error-rate increase canary - baseline: interval against max_error_rate_increase, same reading
  the canary's own error rate against max_error_rate (absolute)
  fewer than min_samples successful requests on either side: inconclusive, never pass

The error-rate expectations are *critical* (:data:`CRITICAL_COLUMNS`): the cutover rolls back on the first
failure of one of them, not after ``failure_limit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.frames import comparison_frame, error_difference_frame, for_backend
from checks.model import Check, Part, SuitePlan, enough, error_increase_checks, interval_spec, ratio_checks
from o2v.config import ThresholdSettings

if TYPE_CHECKING:
    import pandas as pd

CRITICAL_COLUMNS = frozenset({"is_error", "error_rate_diff_low"})
WHOLE_WINDOW = -1.0  # the "level" of rows without a concurrency (frames.level_stats)


def cutover_suite(frame: pd.DataFrame, th: ThresholdSettings, baseline: pd.DataFrame | None) -> SuitePlan:
    """Canary = vLLM rows of ``frame``; baseline = Ollama rows of ``baseline`` (the same window, or stored)."""
    nan = float("nan")
    canary = for_backend(frame, "vllm").assign(concurrency=nan)
    base = for_backend(baseline if baseline is not None else frame, "ollama").assign(concurrency=nan)
    plan = SuitePlan("cutover", len(canary) + len(base))
    if not (enough(plan, canary, "canary (vLLM)", th) & enough(plan, base, "baseline (Ollama)", th)):
        return plan
    plan.parts.append(
        Part(
            "cutover.canary",
            "canary",
            canary,
            [Check("error rate", "is_error", "mean", th.max_error_rate, "rate", "max_error_rate")],
        )
    )
    spec = interval_spec(th)
    compared = comparison_frame(canary, base, min_samples=th.min_samples, spec=spec)
    if not compared.empty:
        checks = ratio_checks(compared, th, "", th.max_vllm_to_ollama_p95_ratio, "max_vllm_to_ollama_p95_ratio")
        plan.parts.append(Part("cutover.latency", "canary vs baseline", compared, checks))
        for column in ("p95_ratio", "ttft_ratio"):
            value = float(compared[column].iloc[0])
            if value == value:
                plan.figures[f"{column.replace('_', ' ')} canary/baseline"] = value
    errors = error_difference_frame(canary, base, [WHOLE_WINDOW], spec)
    checks = error_increase_checks(th, "error rate increase canary-baseline")
    plan.parts.append(Part("cutover.errors", "canary vs baseline", errors, checks))
    plan.figures["canary requests"] = float(len(canary))
    plan.figures["baseline requests"] = float(len(base))
    return plan
