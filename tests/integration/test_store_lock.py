"""The migration lock in the store, contended for real: threads and processes on SQLite and PostgreSQL.

Every test runs on both databases through ``store`` (conftest.py); each contender opens its own Store
(its own engine and connections), as separate runs do.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update

from o2v.errors import LockHeld
from o2v.store import Store, utcnow
from o2v.store_lock import StoreLock, holders, migration_resources
from o2v.store_schema import LockRow

RESOURCES = migration_resources("m1", "o2v-vllm")


def contend(url: str, count: int, make: Callable[[Store, int], StoreLock]) -> tuple[list[str], list[str]]:
    """``count`` threads, each with its own Store, try at the same moment; return (winners, refusals)."""
    start = threading.Barrier(count)
    won: list[str] = []
    refused: list[str] = []
    held: list[StoreLock] = []

    def attempt(i: int) -> None:
        own = Store(url)
        lock = make(own, i)
        start.wait()
        try:
            lock.acquire()
        except LockHeld as exc:
            refused.append(str(exc))
            return
        won.append(lock.owner)
        held.append(lock)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for lock in held:
        lock.release()
    return won, refused


def test_of_eight_racing_runs_exactly_one_gets_the_lock(store: Store) -> None:
    won, refused = contend(
        store.url, 8, lambda s, i: StoreLock(s, RESOURCES, purpose=f"migrate{i}", flow_run_id=f"run-{i}")
    )
    assert len(won) == 1
    assert len(refused) == 7
    assert all("is locked by a migrate" in message and "flow run run-" in message for message in refused)
    assert all("wait for that run to finish or cancel it in the Prefect UI" in message for message in refused)
    assert holders(store) == []  # the winner released; no loser left a row behind


def test_migrate_and_rollback_on_the_same_container_exclude_each_other(store: Store) -> None:
    with StoreLock(store, RESOURCES, purpose="migrate", flow_run_id="mig-1") as running:
        other_migration = migration_resources("m2", "o2v-vllm")  # another migration id, the same container
        with pytest.raises(LockHeld) as refused:
            StoreLock(Store(store.url), other_migration, purpose="rollback").acquire()
        assert refused.value.resource == "vllm-container:o2v-vllm"
        assert "a migrate run (flow run mig-1) since" in refused.value.holder
        # All or nothing: the rollback did not keep the migration:m2 row it had taken first.
        assert {h.resource: h.owner for h in holders(store)} == dict.fromkeys(sorted(RESOURCES), running.owner)
    with StoreLock(Store(store.url), RESOURCES, purpose="rollback") as after:
        assert {h.owner for h in holders(store)} == {after.owner}


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(store: Store) -> None:
    first = StoreLock(store, RESOURCES, purpose="migrate")
    first.acquire()
    told: list[str] = []

    def on_wait(holder) -> None:
        told.append(holder.describe())
        first.release()  # the running migrate finishes while the second run waits

    second = StoreLock(Store(store.url), RESOURCES, purpose="rollback", wait_s=60, poll_s=0.05, on_wait=on_wait)
    second.acquire()
    try:
        assert len(told) == 1
        assert told[0].startswith("a migrate run (owner migrate-")
        assert {h.owner for h in holders(store)} == {second.owner}
    finally:
        second.release()


def test_a_dead_runs_expired_lock_is_taken_over_and_the_old_holder_stops(store: Store) -> None:
    dead = StoreLock(store, RESOURCES, purpose="migrate", flow_run_id="crashed", ttl_s=60)
    dead.acquire()
    dead._stop.set()  # the process died: no more heartbeats, no release
    with pytest.raises(LockHeld):
        StoreLock(Store(store.url), RESOURCES, purpose="migrate").acquire()  # not expired yet
    with store.engine.begin() as conn:  # ... and 61 s later (moving the clock is the one thing faked here)
        conn.execute(update(LockRow).values(expires=utcnow() - timedelta(seconds=1)))

    with StoreLock(Store(store.url), RESOURCES, purpose="migrate", flow_run_id="new") as new:
        assert [d.flow_run_id for d in new.taken_over] == ["crashed", "crashed"]
        assert dead.heartbeat() is False  # had it only been paused, it learns it lost the lock ...
        with pytest.raises(LockHeld, match="heartbeat lapsed"):
            dead.check()  # ... and the phase runner stops it before its next phase
        dead.release()  # and its release does not delete the new holder's rows
        assert {h.flow_run_id for h in holders(store)} == {"new"}


def test_the_heartbeat_keeps_a_live_lock(store: Store) -> None:
    with StoreLock(store, RESOURCES, purpose="migrate", ttl_s=5) as lock:
        before = {h.resource: h.expires for h in holders(store)}
        assert lock.heartbeat() is True
        after = {h.resource: h.expires for h in holders(store)}
        assert all(after[r] >= before[r] for r in before)
        lock.check()


def _acquire_in_process(url: str, index: int, start, results) -> None:
    lock = StoreLock(Store(url), RESOURCES, purpose=f"proc{index}")
    start.wait()
    try:
        lock.acquire()
    except LockHeld:
        results.put("refused")
        start.wait()
        return
    results.put("won")
    start.wait()  # hold it until every process has tried
    lock.release()


def test_racing_processes_on_one_database(store: Store) -> None:
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(3), context.Queue()
    processes = [context.Process(target=_acquire_in_process, args=(store.url, i, start, results)) for i in range(3)]
    for p in processes:
        p.start()
    outcomes = sorted(results.get(timeout=120) for _ in processes)
    for p in processes:
        p.join(timeout=120)
    assert outcomes == ["refused", "refused", "won"]
    assert holders(store) == []
