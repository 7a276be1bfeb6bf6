"""The "decommission" suite: vLLM's window against the validation's Ollama samples, with the gate's rules."""

from __future__ import annotations

import random

from checks.runner import judge_without_gx, run_suite
from o2v.config import ThresholdSettings
from o2v.store import RequestSample

TH = ThresholdSettings(min_samples=60)


def _samples(backend: str, n: int, e2e_ms: float, *, errors: int = 0, seed: int = 1) -> list[RequestSample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        failed = i < errors
        e2e = rng.gauss(e2e_ms, e2e_ms * 0.1)
        out.append(RequestSample(
            source="gateway" if backend == "vllm" else "loadtest", backend=backend, status=503 if failed else 200,
            error_kind="http_503" if failed else None, e2e_ms=None if failed else e2e,
            ttft_ms=None if failed else e2e * 0.2, output_tokens=None if failed else 32,
        ))  # fmt: skip
    return out


def test_a_stable_window_passes_with_gx() -> None:
    verdict = run_suite("decommission", _samples("vllm", 200, 100.0), TH, baseline=_samples("ollama", 150, 160.0))
    assert verdict.status == "pass", verdict.reasons
    assert verdict.suite == "decommission"
    assert verdict.figures["vLLM requests since the cutover"] == 200


def test_too_little_data_is_inconclusive() -> None:
    verdict = judge_without_gx("decommission", _samples("vllm", 12, 100.0), TH, baseline=_samples("ollama", 150, 160.0))
    assert verdict.status == "inconclusive"
    assert any("only 12 successful vLLM (since the cutover) samples" in r for r in verdict.reasons)


def test_no_validation_baseline_is_inconclusive() -> None:
    verdict = judge_without_gx("decommission", _samples("vllm", 200, 100.0), TH, baseline=None)
    assert verdict.status == "inconclusive"
    assert any("no validation baseline" in r for r in verdict.reasons)


def test_errors_on_vllm_fail() -> None:
    verdict = judge_without_gx(
        "decommission", _samples("vllm", 200, 100.0, errors=40), TH, baseline=_samples("ollama", 150, 160.0)
    )
    assert verdict.status == "fail"
    assert any("error rate" in r for r in verdict.reasons)


def test_slower_than_the_baseline_fails() -> None:
    slow, baseline = _samples("vllm", 200, 400.0), _samples("ollama", 150, 100.0)
    verdict = judge_without_gx("decommission", slow, TH, baseline=baseline)
    assert verdict.status == "fail"
    assert any("p95 e2e" in r for r in verdict.reasons)
