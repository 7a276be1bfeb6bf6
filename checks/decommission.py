"""The decommission's stability suite: vLLM's live traffic since the cutover against the validation baseline.

Before Ollama is retired, every request the gateway sent to vLLM over the whole window (from the last cutover
stage until now) is held to the same rules as the validation gate and the cutover, with the same interval
helpers (checks/intervals.py via checks/model.py):

  vLLM's own error rate against max_error_rate (absolute)
  p95 e2e and TTFT ratio window-vLLM / validation-Ollama: bootstrap interval against max_vllm_to_ollama_p95_ratio
      x (1 + ratio_tolerance); low end above it fails, high end above it is inconclusive
  error-rate increase window-vLLM - validation-Ollama: interval against max_error_rate_increase, same reading
  fewer than min_samples successful requests on either side: inconclusive, which decides nothing

The baseline is the validation's Ollama samples (what the team had before), since no client is left on
Ollama to compare with live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.frames import comparison_frame, error_difference_frame, for_backend
from checks.model import Check, Part, SuitePlan, enough, error_increase_checks, interval_spec, ratio_checks
from o2v.config import ThresholdSettings

if TYPE_CHECKING:
    import pandas as pd

WHOLE_WINDOW = -1.0  # the "level" of rows without a concurrency (frames.level_stats)


def decommission_suite(frame: pd.DataFrame, th: ThresholdSettings, baseline: pd.DataFrame | None) -> SuitePlan:
    """``frame``: the window's vLLM rows; ``baseline``: the validation's Ollama rows (None: none recorded)."""
    nan = float("nan")
    live = for_backend(frame, "vllm").assign(concurrency=nan)
    plan = SuitePlan("decommission", len(live))
    if baseline is None or for_backend(baseline, "ollama").empty:
        plan.inconclusive.append(
            "no validation baseline in the store (the validate phase's Ollama samples); re-run the validation "
            "or judge vLLM's window by hand"
        )
        enough(plan, live, "vLLM (since the cutover)", th)
        return plan
    base = for_backend(baseline, "ollama").assign(concurrency=nan)
    plan.sample_count += len(base)
    live_enough = enough(plan, live, "vLLM (since the cutover)", th)
    if not (enough(plan, base, "validation baseline (Ollama)", th) and live_enough):
        return plan
    plan.parts.append(
        Part("decommission.vllm", "vllm", live,
             [Check("error rate", "is_error", "mean", th.max_error_rate, "rate", "max_error_rate")])
    )  # fmt: skip
    spec = interval_spec(th)
    compared = comparison_frame(live, base, min_samples=th.min_samples, spec=spec)
    if not compared.empty:
        checks = ratio_checks(compared, th, "", th.max_vllm_to_ollama_p95_ratio, "max_vllm_to_ollama_p95_ratio")
        plan.parts.append(Part("decommission.latency", "vllm vs validation baseline", compared, checks))
    errors = error_difference_frame(live, base, [WHOLE_WINDOW], spec)
    checks = error_increase_checks(th, "error rate increase vLLM-baseline")
    plan.parts.append(Part("decommission.errors", "vllm vs validation baseline", errors, checks))
    plan.figures["vLLM requests since the cutover"] = float(len(live))
    plan.figures["validation baseline requests"] = float(len(base))
    return plan
