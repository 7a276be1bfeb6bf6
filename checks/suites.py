"""The suites, written as code: which figures each gate reads, from which rows, held to which threshold.

Each suite is a plan of one or more *parts*; a part is one GX expectation suite over one DataFrame (the judged
backend's request rows, or the per-level comparison rows). Thresholds come from ``ThresholdSettings`` at run
time, so changing ``migration.yaml`` changes the gate without touching code.

  baseline   Ollama's own rows: has the endpoint been outgrown?  p95 e2e, queue share, timeout and error rate
  validation vLLM against Ollama at the same load: vLLM's p95 e2e/TTFT, error and timeout rate, and per level
             the confidence interval of vLLM p95 / Ollama p95 (e2e, TTFT), throughput ratio, error-rate increase
             (checks/validation.py)
  stability  vLLM over a watch window: p95 e2e/TTFT, error and timeout rate, p95 against the Ollama baseline
  cutover    live gateway traffic, clients on vLLM against clients on Ollama (or the stored baseline): p95 e2e/TTFT
             ratio intervals, error-rate increase, the canary's error rate (checks/cutover.py)
  decommission vLLM's live traffic since the cutover against the validation's Ollama samples, same rules
             (checks/decommission.py)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from checks.cutover import cutover_suite
from checks.decommission import decommission_suite
from checks.frames import comparison_frame, for_backend
from checks.model import Check, Part, SuitePlan, enough, latency_and_rates
from checks.validation import validation_suite
from o2v.config import ThresholdSettings

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SUITES", "Check", "Part", "SuitePlan", "build", "latency_and_rates"]


def build(
    suite: str, frame: pd.DataFrame, thresholds: ThresholdSettings, baseline: pd.DataFrame | None = None
) -> SuitePlan:
    try:
        builder = SUITES[suite]
    except KeyError:
        from o2v.errors import ConfigError

        raise ConfigError([f"unknown GX suite {suite!r}: expected one of {sorted(SUITES)}"]) from None
    return builder(frame, thresholds, baseline)


def baseline_suite(frame: pd.DataFrame, th: ThresholdSettings, _baseline: pd.DataFrame | None) -> SuitePlan:
    """Ollama is outgrown when any of these fails; pass means the endpoint still copes."""
    ollama = for_backend(frame, "ollama")
    plan = SuitePlan("baseline", len(ollama))
    if not enough(plan, ollama, "Ollama", th):
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


def stability_suite(frame: pd.DataFrame, th: ThresholdSettings, baseline: pd.DataFrame | None) -> SuitePlan:
    """vLLM over a watch window; against the Ollama baseline's p95 when a baseline is given."""
    vllm = for_backend(frame, "vllm")
    plan = SuitePlan("stability", len(vllm))
    if not enough(plan, vllm, "vLLM", th):
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


SUITES: dict[str, Callable[[pd.DataFrame, ThresholdSettings, pd.DataFrame | None], SuitePlan]] = {
    "baseline": baseline_suite,
    "validation": validation_suite,
    "stability": stability_suite,
    "cutover": cutover_suite,
    "decommission": decommission_suite,
}
