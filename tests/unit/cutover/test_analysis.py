"""The stage analysis state machine: Argo/Kayenta semantics, one observation at a time."""

from __future__ import annotations

import pytest

from o2v.cutover.analysis import Limits, Measurement, StageAnalysis


def machine(**limits: int) -> StageAnalysis:
    return StageAnalysis(limits=Limits(**limits), window_s=10.0, started_s=0.0, routing_version=5, models=["m"])


def m(outcome: str, *, critical: bool = False, version: int = 5, models: tuple[str, ...] = ("m",)) -> Measurement:
    return Measurement(
        outcome=outcome,
        critical=critical,
        routing_version=version,
        models=list(models),  # type: ignore[arg-type]
        reasons=[f"{outcome} reason"],
    )


def test_passes_promote_only_once_the_window_is_over() -> None:
    a = machine()
    assert a.observe(m("pass"), 3.0).action == "continue"
    assert a.observe(m("pass"), 6.0).action == "continue"
    decision = a.observe(m("pass"), 10.0)
    assert decision.action == "promote"
    assert decision.counters.passes == 3


def test_too_little_data_never_passes_and_pauses_beyond_the_limit() -> None:
    a = machine(inconclusive_limit=2)
    assert a.observe(m("inconclusive"), 1.0).action == "continue"
    assert a.observe(m("inconclusive"), 2.0).action == "continue"
    decision = a.observe(m("inconclusive"), 3.0)
    assert decision.action == "pause"
    assert "inconclusive_limit 2" in decision.reason


def test_a_window_ending_on_an_inconclusive_interval_pauses_rather_than_promotes() -> None:
    a = machine(inconclusive_limit=10)
    a.observe(m("pass"), 5.0)
    assert a.observe(m("inconclusive"), 11.0).action == "pause"


def test_failures_beyond_the_limit_roll_back() -> None:
    a = machine(failure_limit=1)
    assert a.observe(m("fail"), 1.0).action == "continue"
    decision = a.observe(m("fail"), 2.0)
    assert decision.action == "rollback"
    assert decision.counters.failures == 2


def test_a_critical_failure_rolls_back_at_once_whatever_the_limit() -> None:
    a = machine(failure_limit=5)
    decision = a.observe(m("fail", critical=True), 1.0)
    assert decision.action == "rollback"
    assert "critical" in decision.reason


def test_consecutive_measurement_errors_beyond_the_limit_roll_back_and_any_result_resets_the_run() -> None:
    a = machine(consecutive_error_limit=2)
    a.observe(m("error"), 1.0)
    a.observe(m("error"), 2.0)
    assert a.observe(m("pass"), 3.0).action == "continue"  # the run of errors is broken
    a.observe(m("error"), 4.0)
    a.observe(m("error"), 5.0)
    decision = a.observe(m("error"), 6.0)
    assert decision.action == "rollback"
    assert decision.counters.errors == 5
    assert decision.counters.consecutive_errors == 3


@pytest.mark.parametrize("change", [{"version": 6}, {"models": ("m", "other")}])
def test_a_route_or_model_change_resets_the_counters_and_restarts_the_window(change: dict[str, object]) -> None:
    a = machine(failure_limit=1)
    a.observe(m("fail"), 1.0)
    a.observe(m("pass"), 9.0)
    decision = a.observe(m("fail", **change), 9.5)  # type: ignore[arg-type]
    assert decision.action == "continue"
    assert (decision.counters.failures, decision.counters.passes, decision.counters.resets) == (0, 0, 1)
    assert a.started_s == 9.5
    assert a.observe(m("fail", **change), 10.0).action == "continue"  # only one failure since the reset
    assert a.observe(m("pass", **change), 15.0).action == "continue"  # the window restarted at 9.5
    assert a.observe(m("pass", **change), 19.5).action == "promote"


def test_the_worst_outcome_of_the_stage_is_kept() -> None:
    a = machine(failure_limit=3, inconclusive_limit=3)
    for outcome in ("pass", "inconclusive", "fail", "pass"):
        a.observe(m(outcome), 1.0)
    assert a.worst == "fail"
    assert a.last == "pass"


def test_keep_watching_after_a_pause_clears_the_inconclusive_count() -> None:
    a = machine(inconclusive_limit=0)
    assert a.observe(m("inconclusive"), 1.0).action == "pause"
    a.resume_watching(1.0)
    assert a.counters.inconclusives == 0
    assert a.observe(m("pass"), 5.0).action == "continue"
    assert a.observe(m("pass"), 11.0).action == "promote"
