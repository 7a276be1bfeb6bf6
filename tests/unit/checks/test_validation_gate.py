"""The validation gate's statistics: intervals decide, failed requests do not count, GX and pandas agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from checks.intervals import IntervalSpec, ratio_of_p95
from checks.runner import judge_without_gx, run_suite
from checks.synthetic import synthetic_window
from o2v.config import ThresholdSettings

DEFAULTS = ThresholdSettings()
LEVELS = [1, 5, 10, 20, 50]
ROOT = Path(__file__).resolve().parents[3]


def window(ratio: float, seed: int, n: int = 200, levels: list[int] = LEVELS):
    return synthetic_window(ratio, levels=levels, samples_per_level=n, rng=np.random.default_rng(seed))


@pytest.mark.parametrize(("ratio", "status"), [(0.5, "pass"), (1.5, "fail")])
def test_a_clear_difference_with_200_successful_samples_per_level_is_decided(ratio, status):
    verdict = run_suite("validation", window(ratio, seed=11), DEFAULTS)
    assert verdict.status == status, verdict.reasons
    low = verdict.figures["p95 e2e ratio vLLM/Ollama at concurrency 20 low"]
    high = verdict.figures["p95 e2e ratio vLLM/Ollama at concurrency 20 high"]
    assert low < ratio * 1.02
    assert high > ratio * 0.98
    assert high / low < 1.5  # and narrow enough to be on one side of 1.1


def test_an_interval_that_straddles_the_limit_is_inconclusive_and_names_it():
    verdict = run_suite("validation", window(1.1, seed=5), DEFAULTS)  # true ratio = the limit x (1 + tolerance)
    assert verdict.status == "inconclusive"
    assert verdict.failures == []
    straddling = [r for r in verdict.reasons if "straddles the limit" in r]
    assert straddling
    assert "high end of 95 % interval" in straddling[0]
    assert "thresholds.max_vllm_to_ollama_p95_ratio x (1 + thresholds.ratio_tolerance)" in straddling[0]


def test_the_same_samples_give_the_same_interval_every_time():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(0, 0.35, 200), rng.lognormal(0, 0.35, 200)
    first = ratio_of_p95(a, b, IntervalSpec(), "c", 8)
    assert ratio_of_p95(a, b, IntervalSpec(), "c", 8) == first
    assert ratio_of_p95(a, b, IntervalSpec(seed=1), "c", 8) != first
    assert first.low < first.point < first.high


def test_failed_requests_do_not_count_toward_the_sample_size(make_samples):
    th = ThresholdSettings(min_samples=72)
    ollama = make_samples("ollama", 100, e2e_ms=4000, concurrency=4)
    vllm = make_samples("vllm", 100, e2e_ms=1000, concurrency=4, errors=40, error_kind="http_503")
    verdict = judge_without_gx("validation", vllm + ollama, th)
    assert verdict.status == "inconclusive"
    assert verdict.reasons == [
        "only 60 successful vLLM samples (and 40 failed) in the window; at least 72 are needed "
        "(thresholds.min_samples) before this gate can decide"
    ]


def test_a_level_short_of_successful_samples_cannot_pass(make_samples):
    th = ThresholdSettings(min_samples=30)
    ollama = make_samples("ollama", 40, e2e_ms=4000, concurrency=4) + make_samples(
        "ollama", 40, e2e_ms=8000, concurrency=8
    )
    vllm = make_samples("vllm", 40, e2e_ms=1000, concurrency=4) + make_samples(
        "vllm", 40, e2e_ms=1000, concurrency=8, errors=15, error_kind="http_503"
    )
    verdict = judge_without_gx(
        "validation", vllm + ollama, th.model_copy(update={"max_error_rate": 0.5, "max_error_rate_increase": 0.5})
    )
    assert verdict.status == "inconclusive"
    assert "concurrency 8: only 25 successful vLLM and 40 successful Ollama requests" in verdict.reasons[0]


def test_more_errors_on_vllm_than_on_ollama_fails_on_the_interval(make_samples):
    th = ThresholdSettings(min_samples=30, max_error_rate=0.5)  # isolate the comparison from the absolute limit
    ollama = make_samples("ollama", 200, e2e_ms=4000, concurrency=4)
    vllm = make_samples("vllm", 200, e2e_ms=1000, concurrency=4, errors=20, error_kind="http_503")
    verdict = run_suite("validation", vllm + ollama, th)
    assert verdict.status == "fail"
    (failure,) = verdict.failures
    assert failure.column == "error_rate_diff_low"
    assert "vLLM 10.0 % of 200 vs Ollama 0.0 % of 200 requests" in failure.message
    assert verdict.figures["error rate increase vLLM-Ollama, high end of 95 % interval"] > 0.1


@pytest.mark.parametrize("ratio", [0.5, 1.1, 1.5])
def test_gx_and_the_pandas_evaluation_reach_the_same_verdict(ratio):
    data = window(ratio, seed=3, n=120, levels=[1, 8])
    th = ThresholdSettings(min_samples=60)
    with_gx, without = run_suite("validation", data, th), judge_without_gx("validation", data, th)
    assert with_gx.status == without.status
    assert with_gx.reasons == without.reasons
    assert with_gx.figures == pytest.approx(without.figures)


def test_validations_from_two_processes_both_stay_in_the_data_docs(tmp_path):
    """A file-backed GX project: the second process's index still lists the first one's validation."""
    project = tmp_path / "gx"
    script = (
        "import numpy as np\n"
        "from checks.runner import run_suite\nfrom checks.synthetic import synthetic_window\n"
        "from o2v.config import ThresholdSettings\n"
        "w = synthetic_window(0.5, levels=[4], samples_per_level=80, rng=np.random.default_rng(1))\n"
        f"print(run_suite('validation', w, ThresholdSettings(), project_dir={str(project)!r}).status)\n"
    )
    first = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert first.stdout.strip() == "pass", first.stderr[-2000:]
    second = run_suite(
        "validation", window(0.5, seed=2, n=80, levels=[4]), DEFAULTS, project_dir=project,
        docs_base_url="https://ci.example/o2v-docs/",
    )  # fmt: skip
    pages = sorted((project / "data_docs" / "validations" / "validation" / "comparison").rglob("*.html"))
    assert len(pages) == 2
    index = (project / "data_docs" / "index.html").read_text()
    for page in pages:
        assert page.relative_to(project / "data_docs").as_posix() in index
    assert second.data_docs_url == "https://ci.example/o2v-docs/index.html"
    assert any(
        p.startswith("https://ci.example/o2v-docs/validations/validation/comparison/") for p in second.data_docs_pages
    )
