"""The results store against real databases: a SQLite file and a PostgreSQL server (``postgres_url``).

Every test runs on both (the ``store`` fixture in conftest.py); the PostgreSQL variant gets its own schema so
parallel runs never see each other's rows. Under CI=true a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from support.engines import free_port

from o2v.errors import StoreError
from o2v.store import LoadTestRunRecord, RequestSample, Store


def sample(i: int = 0, **fields) -> RequestSample:
    base = {
        "time": datetime(2025, 1, 6, 10, 0, tzinfo=UTC) + timedelta(seconds=i),
        "source": "loadtest",
        "backend": "ollama",
        "client": f"client-{i}",
        "model": "llama3.1:8b",
        "status": 200,
        "ttft_ms": 120.5 + i,
        "e2e_ms": 900.25 + i,
        "output_tokens": 64,
        "run_id": "run-1",
        "concurrency": 5,
    }
    return RequestSample(**(base | fields))


def test_samples_round_trip_with_every_field(store: Store) -> None:
    written = [
        sample(0),
        sample(1, status=503, error_kind="http_503", ttft_ms=None, e2e_ms=12.0, output_tokens=None),
        sample(2, source="probe", backend="vllm", run_id=None, concurrency=None, client=""),
    ]
    assert store.add_samples(written) == 3
    assert store.samples() == written
    read = store.samples()[0]
    assert read.time.tzinfo is not None
    assert read.time.utcoffset() == timedelta(0)


def test_sample_filters_and_counts(store: Store) -> None:
    store.add_samples([sample(i, backend="vllm" if i % 2 else "ollama") for i in range(10)])
    store.add_samples([sample(100 + i, source="gateway", run_id="run-2") for i in range(3)])
    start = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
    assert store.count_samples() == 13
    assert store.count_samples(backend="vllm") == 5
    assert store.count_samples(source=["gateway", "probe"]) == 3
    assert store.count_samples(run_id="run-2") == 3
    window = store.samples(since=start + timedelta(seconds=2), until=start + timedelta(seconds=5))
    assert [s.client for s in window] == ["client-2", "client-3", "client-4"]
    assert len(store.samples(limit=4)) == 4
    assert store.count_samples(since=start + timedelta(seconds=2), until=start + timedelta(seconds=5)) == 3


def test_times_in_other_zones_are_stored_as_utc(store: Store) -> None:
    berlin = timezone(timedelta(hours=1))
    local = datetime(2025, 1, 6, 11, 0, 30, tzinfo=berlin)  # 10:00:30 UTC
    store.add_samples([sample(0, time=local), sample(60)])
    since, until = datetime(2025, 1, 6, 10, 0, 10, tzinfo=UTC), datetime(2025, 1, 6, 10, 0, 40, tzinfo=UTC)
    (only,) = store.samples(since=since, until=until)
    assert only.time == local
    assert only.time.utcoffset() == timedelta(0)


def test_load_test_runs_are_saved_and_replaced(store: Store) -> None:
    started = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    run = LoadTestRunRecord(run_id="r1", started=started, backend="ollama", url="http://127.0.0.1:11434",
                            model="llama3.1:8b", summary={"levels": [{"concurrency": 5, "p95_e2e_ms": 812.5}]})
    store.save_run(run)
    finished = run.model_copy(update={"finished": started + timedelta(minutes=3), "summary": {"levels": []}})
    store.save_run(finished)
    store.save_run(LoadTestRunRecord(run_id="r2", started=started + timedelta(hours=1), backend="vllm",
                                     url="http://127.0.0.1:8000", model="llama3.1:8b", mode="rate"))
    runs = store.runs()
    assert [r.run_id for r in runs] == ["r1", "r2"]
    assert runs[0] == finished
    assert runs[1].mode == "rate"
    assert runs[1].finished is None


def test_phase_ledger_and_last_success(store: Store) -> None:
    first = store.phase_started("m1", "inventory", "hash-a")
    store.phase_finished(first, "succeeded", result={"models": 3, "when": datetime(2025, 1, 6, tzinfo=UTC)})
    failed = store.phase_started("m1", "deploy", "hash-a")
    store.phase_finished(failed, "failed", error="vLLM never became healthy")
    store.phase_started("m2", "inventory", "hash-a")  # another migration, still running

    ledger = store.ledger("m1")
    assert [(e.phase, e.status) for e in ledger] == [("inventory", "succeeded"), ("deploy", "failed")]
    assert ledger[0].result == {"models": 3, "when": "2025-01-06 00:00:00+00:00"}
    assert ledger[0].finished is not None
    assert ledger[0].finished >= ledger[0].started
    assert ledger[1].error == "vLLM never became healthy"
    assert store.last_success("m1", "inventory", "hash-a") is not None
    assert store.last_success("m1", "inventory", "hash-b") is None  # configuration changed: run again
    assert store.last_success("m1", "deploy", "hash-a") is None
    store.invalidate_phase("m1", "inventory", "hash-a", "rolled back")
    assert store.last_success("m1", "inventory", "hash-a") is None
    assert [e.status for e in store.ledger("m2")] == ["running"]


def test_finishing_an_unknown_ledger_entry_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="ledger entry 4242 does not exist"):
        store.phase_finished(4242, "succeeded")


def test_audit_log_keeps_order_and_detail(store: Store) -> None:
    store.audit("alice", "approve", "cutover:10%", {"channel": "#llm-migration"})
    store.audit("bob", "rollback", "o2v-vllm", {"reason": "p95 too high"})
    log = store.audit_log()
    assert [(a.actor, a.action, a.target) for a in log] == [
        ("alice", "approve", "cutover:10%"), ("bob", "rollback", "o2v-vllm"),
    ]
    assert log[1].detail == {"reason": "p95 too high"}
    assert log[0].time.tzinfo is not None


def test_state_set_replace_and_concurrent_writers(store: Store) -> None:
    assert store.get_state("outgrown-alert") is None
    store.set_state("outgrown-alert", {"sent": True, "at": datetime(2025, 1, 6, tzinfo=UTC)})
    assert store.get_state("outgrown-alert") == {"sent": True, "at": "2025-01-06 00:00:00+00:00"}
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for k in range(10):
                store.set_state("thread", {"writer": n, "k": k})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert store.get_state("thread")["k"] == 9


async def test_ten_thousand_concurrent_writes_lose_no_row(store: Store) -> None:
    """10,000 coroutines each record one sample while the writer flushes in the background."""
    total = 10_000
    rng = random.Random(7)
    delays = [rng.random() * 0.2 for _ in range(total)]

    async def request(i: int, writer) -> None:
        await asyncio.sleep(delays[i])  # interleave adds with the writer's background flushes
        writer.add(sample(i, client=f"c{i}", run_id="burst"))

    started = time.monotonic()
    async with store.writer(flush_interval_s=0.02) as writer:
        await asyncio.gather(*(request(i, writer) for i in range(total)))
    elapsed = time.monotonic() - started

    assert writer.written == total
    assert writer.pending == 0
    assert store.count_samples(run_id="burst") == total
    clients = {s.client for s in store.samples(run_id="burst")}
    assert clients == {f"c{i}" for i in range(total)}
    assert elapsed < 60, f"10,000 samples took {elapsed:.1f} s"


async def test_cancelling_a_flush_in_flight_writes_each_row_once(store: Store) -> None:
    writer = store.writer()
    for i in range(3000):
        writer.add(sample(i))
    flushing = asyncio.create_task(writer.flush())
    await asyncio.sleep(0.01)  # the write has started in its thread
    flushing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    await writer.flush()
    assert writer.written == 3000
    assert store.count_samples() == 3000


async def test_writer_keeps_a_failed_batch_and_writes_it_later(store: Store) -> None:
    writer = store.writer()
    for i in range(5):
        writer.add(sample(i))
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE samples RENAME TO samples_away"))
    with pytest.raises(StoreError, match="writing samples to the results store"):
        await writer.flush()
    assert writer.pending == 5
    assert writer.last_error is not None
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE samples_away RENAME TO samples"))
    assert await writer.flush() == 5
    assert store.count_samples() == 5


async def test_in_memory_sqlite_is_one_database_for_every_thread() -> None:
    db = Store("sqlite://")
    async with db.writer() as writer:
        writer.add(sample(0))
    assert db.count_samples() == 1


def test_unreachable_database_is_a_store_error_without_the_password() -> None:
    url = f"postgresql://o2v:hunter2@127.0.0.1:{free_port()}/o2v?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        Store(url)
    message = str(caught.value)
    assert "hunter2" not in message
    assert "127.0.0.1" in message
    assert "check store.url" in message


def test_bad_urls_are_store_errors() -> None:
    with pytest.raises(StoreError, match="must be a SQLAlchemy URL"):
        Store("not a url")
    with pytest.raises(StoreError, match="no database driver"):
        Store("nosuchdb://x/y")
