"""run_suite against real Great Expectations: figures, thresholds, three-valued verdicts and Data Docs."""

from __future__ import annotations

import pandas as pd
import pytest

from checks.runner import run_suite
from checks.verdict import Verdict
from o2v.config import ThresholdSettings
from o2v.errors import ConfigError, GateFailed

TH = ThresholdSettings(min_samples=20, outgrown_p95_e2e_ms=10_000, max_error_rate=0.05, max_timeout_rate=0.05)


def test_baseline_passes_for_a_healthy_ollama(make_samples, tmp_path):
    verdict = run_suite("baseline", make_samples("ollama", 30, e2e_ms=2000), TH, project_dir=tmp_path / "gx")
    assert verdict.status == "pass"
    assert verdict.reasons == []
    assert verdict.figures["ollama p95 e2e latency ms"] == pytest.approx(2000)
    assert verdict.figures["ollama error rate"] == 0
    index = tmp_path / "gx" / "data_docs" / "index.html"
    assert verdict.data_docs_path == str(index.resolve())
    assert index.is_file()
    pages = list((tmp_path / "gx" / "data_docs" / "validations").rglob("*.html"))
    assert verdict.data_docs_pages == [str(pages[0].resolve())]
    assert pages, "a validation page for the baseline suite"
    assert "ok_e2e_ms" in pages[0].read_text()


def test_baseline_fails_with_every_violation_and_its_figures(make_samples):
    samples = make_samples("ollama", 40, e2e_ms=10_000, spread=0.5, errors=4)  # 4 timeouts = 10 %
    verdict = run_suite("baseline", samples, TH)
    assert verdict.status == "fail"
    by_column = {f.column: f for f in verdict.failures}
    assert set(by_column) == {"ok_e2e_ms", "is_timeout", "is_error"}
    p95 = by_column["ok_e2e_ms"]
    assert p95.threshold == 10_000
    assert 14_000 < (p95.observed or 0) < 15_000
    assert p95.message.startswith("p95 e2e latency 14.")
    assert "> 10.0 s threshold (ollama, 40 samples)" in p95.message
    assert by_column["is_timeout"].observed == pytest.approx(0.1)
    assert "timeout rate 10.0 % > 5.0 % threshold" in by_column["is_timeout"].message
    assert verdict.data_docs_path is None
    with pytest.raises(GateFailed) as caught:
        verdict.raise_for_status()
    assert len(caught.value.violations) == 3


def test_baseline_fails_on_queueing(make_samples):
    alone = make_samples("ollama", 10, e2e_ms=2000, ttft_ms=200, concurrency=1)
    queued = make_samples("ollama", 25, e2e_ms=8000, ttft_ms=6200, concurrency=4)  # 75 % of each is queueing
    verdict = run_suite("baseline", alone + queued, TH)
    assert verdict.status == "fail"
    (failure,) = verdict.failures
    assert failure.column == "queue_share"
    assert failure.observed == pytest.approx(0.75 * 25 / 35)
    assert failure.message.startswith("queue share of latency 53.6 % > 50.0 % threshold (ollama, 35 samples)")


@pytest.mark.parametrize("count", [0, 19])
def test_too_few_samples_is_inconclusive_never_pass(make_samples, count):
    verdict = run_suite("baseline", make_samples("ollama", count, e2e_ms=100), TH)
    assert verdict.status == "inconclusive"
    assert verdict.sample_count == count
    assert f"only {count} successful Ollama samples" in verdict.reasons[0]
    with pytest.raises(GateFailed):
        verdict.raise_for_status()
    verdict.raise_for_status(allow_inconclusive=True)


def test_validation_passes_when_vllm_is_faster_at_the_same_load(make_samples):
    samples = make_samples("ollama", 25, e2e_ms=9000, concurrency=4, gap_s=1.0) + make_samples(
        "vllm", 25, e2e_ms=1500, concurrency=4, gap_s=0.2
    )
    verdict = run_suite("validation", samples, TH)
    assert verdict.status == "pass", verdict.reasons
    assert verdict.figures["p95 e2e ratio vLLM/Ollama"] == pytest.approx(1500 / 9000)
    assert verdict.figures["throughput ratio vLLM/Ollama at concurrency 4"] > 1
    assert verdict.figures["throughput ratio vLLM/Ollama, high end of 95 % interval"] > 1


def test_validation_fails_with_the_worst_level_named(make_samples):
    ollama = make_samples("ollama", 25, e2e_ms=1000, concurrency=1) + make_samples(
        "ollama", 25, e2e_ms=2000, concurrency=8
    )
    vllm = make_samples("vllm", 25, e2e_ms=900, concurrency=1) + make_samples(
        "vllm", 25, e2e_ms=3000, concurrency=8
    )
    verdict = run_suite("validation", vllm, TH, baseline=pd.DataFrame([s.model_dump() for s in ollama]))
    ratio = next(f for f in verdict.failures if f.column == "p95_ratio_low")
    assert verdict.status == "fail"
    assert ratio.observed == pytest.approx(1.5)  # identical samples: the interval is the point
    assert "at concurrency 8, interval 1.50x .. 1.50x, 3.0 s vs 2.0 s" in ratio.message
    assert "1 load level)" in ratio.message  # concurrency 1 is judged by the single-stream limit instead


def test_single_stream_is_judged_with_its_own_looser_limit(make_samples):
    ollama = make_samples("ollama", 25, e2e_ms=1000, concurrency=1) + make_samples(
        "ollama", 25, e2e_ms=4000, concurrency=8
    )
    slightly_slower_alone = make_samples("vllm", 25, e2e_ms=1300, concurrency=1) + make_samples(
        "vllm", 25, e2e_ms=1500, concurrency=8
    )
    assert run_suite("validation", slightly_slower_alone + ollama, TH).status == "pass"
    much_slower_alone = make_samples("vllm", 25, e2e_ms=2000, concurrency=1) + make_samples(
        "vllm", 25, e2e_ms=1500, concurrency=8
    )
    verdict = run_suite("validation", much_slower_alone + ollama, TH)
    assert verdict.status == "fail"
    assert [f.column for f in verdict.failures] == ["p95_ratio_low"]
    assert "single-stream" in verdict.failures[0].message
    assert "max_single_stream_p95_ratio" in verdict.failures[0].message


def test_validation_without_a_common_level_is_inconclusive(make_samples):
    samples = make_samples("ollama", 25, concurrency=1) + make_samples("vllm", 25, concurrency=16)
    verdict = run_suite("validation", samples, TH)
    assert verdict.status == "inconclusive"
    assert any("same load" in r for r in verdict.reasons)


def test_stability_with_a_baseline_that_has_no_latency_is_inconclusive(make_samples):
    vllm = make_samples("vllm", 25, e2e_ms=800)
    dead_ollama = make_samples("ollama", 25, errors=25)
    verdict = run_suite("stability", vllm, TH, baseline=dead_ollama)
    assert verdict.status == "inconclusive"
    assert "p95 e2e ratio vLLM/Ollama could not be computed" in verdict.reasons[0]


def test_stability_fails_on_vllm_errors(make_samples):
    verdict = run_suite("stability", make_samples("vllm", 30, errors=3, error_kind="http_500"), TH)
    assert verdict.status == "fail"
    assert [f.column for f in verdict.failures] == ["is_error"]
    assert "error rate 10.0 % > 5.0 % threshold (vllm, 30 samples)" in verdict.reasons[0]


def test_unknown_suite_is_a_config_error(make_samples):
    with pytest.raises(ConfigError, match="unknown GX suite 'nope'"):
        run_suite("nope", make_samples("vllm", 1), TH)


def test_verdict_markdown_and_summary():
    verdict = Verdict(
        status="fail",
        suite="baseline",
        sample_count=3,
        reasons=["a", "b", "c", "d"],
        figures={"ollama error rate": 0.25},
    )
    assert verdict.summary() == "baseline: fail (3 samples) - a; b; c (+1 more)"
    assert "| ollama error rate | 0.25 |" in verdict.to_markdown()
