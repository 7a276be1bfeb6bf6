"""The baseline monitor's crossing state machine: one alert per crossing, one per outage."""

from __future__ import annotations

from o2v.monitor import MonitorState, advance


def run(statuses: list[tuple[bool, str]]) -> tuple[MonitorState, list[str]]:
    state, actions = MonitorState(), []
    for probe_ok, status in statuses:
        state, action = advance(state, probe_ok=probe_ok, verdict_status=status)
        actions.append(action)
    return state, actions


def test_alerts_once_per_crossing():
    state, actions = run([(True, "pass"), (True, "fail"), (True, "fail"), (True, "fail")])
    assert actions == ["none", "alert_outgrown", "none", "none"]
    assert state.outgrown
    assert state.alerts_sent == 1
    assert state.outgrown_since is not None


def test_alerts_again_only_after_recovery():
    state, actions = run([(True, "fail"), (True, "pass"), (True, "fail"), (True, "fail")])
    assert actions == ["alert_outgrown", "recovered", "alert_outgrown", "none"]
    assert state.alerts_sent == 2


def test_inconclusive_changes_nothing():
    state, actions = run([(True, "fail"), (True, "inconclusive"), (True, "fail"), (True, "inconclusive")])
    assert actions == ["alert_outgrown", "none", "none", "none"]
    assert state.outgrown
    _, actions = run([(True, "inconclusive"), (True, "pass")])
    assert actions == ["none", "none"]


def test_unreachable_alerts_once_per_outage_and_keeps_the_outgrown_state():
    state, actions = run(
        [
            (True, "fail"),
            (False, "fail"),
            (False, "inconclusive"),
            (True, "fail"),
            (False, "pass"),
            (True, "pass"),
        ]
    )
    assert actions == ["alert_outgrown", "alert_unreachable", "none", "none", "alert_unreachable", "recovered"]
    assert not state.unreachable
    assert not state.outgrown
    assert state.last_status == "pass"


def test_state_round_trips_through_json():
    state, _ = run([(True, "fail")])
    assert MonitorState.model_validate(state.model_dump(mode="json")) == state
