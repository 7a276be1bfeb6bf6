"""Stages from the config (both forms), the routing each stage means, and the cutover GX suite's verdicts."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from pydantic import ValidationError

from checks.cutover import CRITICAL_COLUMNS
from checks.runner import judge_without_gx, run_suite
from o2v.config import Settings
from o2v.cutover.stages import named_clients, resolve_stages, routing_at
from o2v.store import RequestSample, utcnow


def test_stages_percent_still_works_and_becomes_one_stage_per_share() -> None:
    settings = Settings(cutover={"stages_percent": [25, 100], "watch_window_s": 60})  # type: ignore[arg-type]
    stages = resolve_stages(settings)
    assert [(s.index, s.percent, s.watch_window_s) for s in stages] == [(1, 25.0, 60.0), (2, 100.0, 60.0)]
    assert stages[0].interval_s == settings.cutover.analysis_interval_s
    assert stages[0].min_samples == settings.thresholds.min_samples
    assert stages[1].key == "stage-2"


def test_named_stages_are_cumulative_and_100_percent_moves_every_named_client() -> None:
    settings = Settings(
        cutover={
            "clients": {"ci-bot": {"addresses": ["127.0.0.2"]}, "forgotten": {"addresses": ["127.0.0.9"]}},
            "stages": [
                {"clients": ["ci-bot"], "interval_s": 2},
                {"clients": ["notebooks"], "percent": 25},
                {"percent": 100, "min_samples": 7},
            ],
        }
    )  # type: ignore[arg-type]
    stages = resolve_stages(settings)
    assert stages[0].name == "stage-1: ci-bot"
    assert (stages[0].interval_s, stages[2].min_samples) == (2.0, 7)
    everyone = named_clients(settings, stages, {"old-route": "ollama"})
    assert everyone == {"ci-bot", "forgotten", "notebooks", "old-route"}
    assert routing_at(stages, 0, everyone) == ({c: "ollama" for c in sorted(everyone)}, 0.0)
    routes, percent = routing_at(stages, 2, everyone)
    assert percent == 25.0
    assert {c for c, b in routes.items() if b == "vllm"} == {"ci-bot", "notebooks"}
    routes, percent = routing_at(stages, 3, everyone)
    assert (set(routes.values()), percent) == ({"vllm"}, 100.0)


@pytest.mark.parametrize(
    ("cutover", "message"),
    [
        (
            {"stages": [{"percent": 100}], "stages_percent": [50, 100]},
            "either cutover.stages or cutover.stages_percent",
        ),
        ({"stages": [{"name": "empty"}, {"percent": 100}]}, "stage 1 moves nobody"),
        ({"stages": [{"percent": 50}, {"percent": 10}, {"percent": 100}]}, "stage 2: percent 10 is below"),
        ({"stages": [{"clients": ["ci-bot"]}]}, "last stage must reach percent 100"),
    ],
)
def test_bad_stage_lists_are_refused_with_the_reason(cutover: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(cutover=cutover)  # type: ignore[arg-type]


def window(backend: str, n: int, *, e2e_ms: float, errors: int = 0, client: str = "c") -> list[RequestSample]:
    rng = random.Random(f"{backend}{n}{e2e_ms}{errors}")
    start = utcnow()
    out = []
    for i in range(n):
        failed = i < errors
        e2e = e2e_ms * rng.uniform(0.8, 1.2)
        out.append(RequestSample(
            time=start + timedelta(milliseconds=10 * i), source="gateway", backend=backend, client=client,  # type: ignore[arg-type]
            model="m", status=500 if failed else 200, error_kind="http_500" if failed else None,
            e2e_ms=None if failed else e2e, ttft_ms=None if failed else e2e / 10,
        ))  # fmt: skip
    return out


def test_similar_canary_and_baseline_pass() -> None:
    settings = Settings()
    th = settings.thresholds.model_copy(update={"min_samples": 50})
    verdict = judge_without_gx(
        "cutover", window("vllm", 200, e2e_ms=100), th, baseline=window("ollama", 200, e2e_ms=100)
    )
    assert verdict.status == "pass", verdict.reasons
    assert verdict.figures["canary requests"] == 200


def test_too_few_canary_samples_is_inconclusive_never_pass() -> None:
    th = Settings().thresholds.model_copy(update={"min_samples": 50})
    verdict = judge_without_gx(
        "cutover", window("vllm", 10, e2e_ms=100), th, baseline=window("ollama", 200, e2e_ms=100)
    )
    assert verdict.status == "inconclusive"
    assert "only 10 successful canary (vLLM) samples" in verdict.reasons[0]


def test_a_slower_canary_fails_on_latency_and_a_failing_one_fails_critically_through_gx() -> None:
    th = Settings().thresholds.model_copy(update={"min_samples": 50})
    slow = run_suite("cutover", window("vllm", 200, e2e_ms=400), th, baseline=window("ollama", 200, e2e_ms=100))
    assert slow.status == "fail"
    assert {f.column for f in slow.failures} & {"p95_ratio_low", "ttft_ratio_low"}
    assert not {f.column for f in slow.failures} & CRITICAL_COLUMNS
    erroring = run_suite(
        "cutover", window("vllm", 200, e2e_ms=100, errors=60), th, baseline=window("ollama", 200, e2e_ms=100)
    )
    assert erroring.status == "fail"
    assert {f.column for f in erroring.failures} & CRITICAL_COLUMNS
