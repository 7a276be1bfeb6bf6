"""The ledger decides what a re-run repeats."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from o2v.errors import PhaseError
from o2v.phases import PhaseRunner
from o2v.store import Store


class Result(BaseModel):
    value: int


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'ledger.db'}")


def test_success_is_skipped_on_rerun_with_same_config(store: Store) -> None:
    calls: list[str] = []

    def work() -> Result:
        calls.append("ran")
        return Result(value=7)

    first, skipped_first = PhaseRunner(store, "m1", "hash-a").run("plan", work, Result)
    second, skipped_second = PhaseRunner(store, "m1", "hash-a").run("plan", work, Result)
    assert (first, skipped_first) == (Result(value=7), False)
    assert (second, skipped_second) == (Result(value=7), True)
    assert calls == ["ran"]


def test_changed_config_or_other_migration_runs_again(store: Store) -> None:
    calls: list[str] = []

    def work() -> Result:
        calls.append("ran")
        return Result(value=len(calls))

    PhaseRunner(store, "m1", "hash-a").run("plan", work, Result)
    PhaseRunner(store, "m1", "hash-b").run("plan", work, Result)
    PhaseRunner(store, "m2", "hash-a").run("plan", work, Result)
    assert len(calls) == 3


def test_failure_is_recorded_and_resumed(store: Store) -> None:
    attempts: list[int] = []

    def flaky() -> Result:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("port 8000 already in use")
        return Result(value=1)

    runner = PhaseRunner(store, "m1", "h")
    with pytest.raises(PhaseError, match="deploy.*port 8000 already in use.*what to do"):
        runner.run("deploy", flaky, Result)
    assert [e.status for e in store.ledger("m1")] == ["failed"]
    assert store.ledger("m1")[0].error == "RuntimeError: port 8000 already in use"
    result, skipped = PhaseRunner(store, "m1", "h").run("deploy", flaky, Result)
    assert (result.value, skipped) == (1, False)


def test_from_phase_forces_that_phase_and_later_ones(store: Store) -> None:
    ran: list[str] = []
    for phase in ("plan", "deploy", "smoke"):
        PhaseRunner(store, "m1", "h").run(phase, lambda p=phase: ran.append(p) or Result(value=0), Result)
    ran.clear()
    runner = PhaseRunner(store, "m1", "h", from_phase="deploy")
    for phase in ("plan", "deploy", "smoke"):
        runner.run(phase, lambda p=phase: ran.append(p) or Result(value=0), Result)
    assert ran == ["deploy", "smoke"]
    assert runner.executed() == ["deploy", "smoke"]


def test_a_phase_that_runs_again_reruns_every_later_phase(store: Store) -> None:
    ran: list[str] = []
    for phase in ("plan", "deploy", "smoke"):
        PhaseRunner(store, "m1", "h").run(phase, lambda p=phase: ran.append(p) or Result(value=0), Result)
    store.invalidate_phase("m1", "deploy", "h", "rolled back")
    ran.clear()
    runner = PhaseRunner(store, "m1", "h")
    for phase in ("plan", "deploy", "smoke"):
        runner.run(phase, lambda p=phase: ran.append(p) or Result(value=0), Result)
    assert ran == ["deploy", "smoke"]
    assert [e.status for e in store.ledger("m1")][-3:] == ["skipped", "succeeded", "succeeded"]


def test_invalidated_phase_runs_again(store: Store) -> None:
    ran: list[str] = []
    PhaseRunner(store, "m1", "h").run("deploy", lambda: ran.append("x") or Result(value=0), Result)
    store.invalidate_phase("m1", "deploy", "h", "rolled back: p95 too high")
    PhaseRunner(store, "m1", "h").run("deploy", lambda: ran.append("x") or Result(value=0), Result)
    assert ran == ["x", "x"]


def test_unknown_from_phase_is_rejected(store: Store) -> None:
    with pytest.raises(PhaseError, match="from_phase must be one of"):
        PhaseRunner(store, "m1", "h", from_phase="deplyo")


def test_each_phase_is_skipped_by_its_own_key(store: Store) -> None:
    ran: list[str] = []
    keys = {"diagnose": "d1", "plan": "p1"}
    for phase in ("diagnose", "plan"):
        PhaseRunner(store, "m1", "whole").run(phase, lambda p=phase: ran.append(p) or Result(value=0), Result,
                                              key=keys[phase])
    ran.clear()
    runner = PhaseRunner(store, "m1", "whole-config-changed")  # e.g. a new Slack channel: no phase key moved
    for phase in ("diagnose", "plan"):
        runner.run(phase, lambda p=phase: ran.append(p) or Result(value=0), Result, key=keys[phase])
    assert ran == []
    runner = PhaseRunner(store, "m1", "whole")
    runner.run("diagnose", lambda: ran.append("diagnose") or Result(value=0), Result, key="d1")
    runner.run("plan", lambda: ran.append("plan") or Result(value=0), Result, key="p2")  # plan's input changed
    assert ran == ["plan"]
    assert [e.config_hash for e in store.ledger("m1")][-2:] == ["d1", "p2"]


def test_a_deploy_is_reused_only_if_nothing_touched_the_container_since(store: Store) -> None:
    ran: list[str] = []

    def deploy(key: str) -> bool:
        _, skipped = PhaseRunner(store, "m1", "h").run(
            "deploy", lambda: ran.append(key) or Result(value=0), Result, key=key
        )
        return skipped

    assert deploy("a") is False
    assert deploy("a") is True
    assert deploy("b") is False  # another plan replaced the container ...
    assert deploy("a") is False  # ... so the old success under "a" no longer describes it
    store.phase_started("m1", "deploy", "a")  # a run killed mid-deploy may have replaced it too
    assert deploy("a") is False
    assert ran == ["a", "b", "a", "a"]


def test_a_guard_that_raises_stops_the_run_before_the_phase(store: Store) -> None:
    from o2v.errors import LockHeld

    def lost() -> None:
        raise LockHeld("migration:m1", "another run", "stop")

    ran: list[str] = []
    with pytest.raises(PhaseError, match="phase 'deploy' failed: migration:m1 is locked by another run"):
        PhaseRunner(store, "m1", "h", guard=lost).run("deploy", lambda: ran.append("x") or Result(value=0), Result)
    assert ran == []
    assert store.ledger("m1") == []
