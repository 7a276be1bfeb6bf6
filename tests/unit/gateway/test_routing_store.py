"""The routing table in a real SQLite store: versioned, audited, followed by every replica."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from o2v.errors import StoreError
from o2v.gateway.routing import RouteFollower
from o2v.store import RequestSample, Store


def test_every_change_bumps_the_version_and_is_audited(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'o2v.db'}") as store:
        assert store.routing_table().model_dump() == {"version": 0, "percent": 0.0, "routes": {}}
        store.set_route("ci-bot", "vllm", actor="alice", reason="stage 1")
        store.set_routes({"notebooks": "vllm", "batch": "ollama"}, actor="cutover")
        store.set_percent(25, actor="cutover")
        table = store.reset_routes(actor="bob", reason="p95 too high")
        assert table.version == store.routing_version() == 4
        assert table.routes == {"ci-bot": "ollama", "notebooks": "ollama", "batch": "ollama"}
        assert table.percent == 0
        log = [(e.actor, e.action, e.target, e.detail.get("reason")) for e in store.audit_log()]
        assert log == [
            ("alice", "set_routes", "ci-bot", "stage 1"), ("cutover", "set_routes", "batch,notebooks", ""),
            ("cutover", "set_percent", "unnamed", ""), ("bob", "rollback_all", "*", "p95 too high"),
        ]  # fmt: skip
        with pytest.raises(ValueError, match="'ollama' or 'vllm'"):
            store.set_route("x", "gpu", actor="a")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="between 0 and 100"):
            store.set_percent(101, actor="a")
        assert store.routing_version() == 4  # refused changes changed nothing


async def test_a_replica_follows_changes_made_elsewhere_and_survives_a_broken_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o2v.db'}"
    with Store(url) as mine, Store(url) as theirs:
        follower = RouteFollower(mine.routing_version, mine.routing_table, interval_s=0.05)
        await follower.start()
        try:
            assert await follower.refresh() is False
            theirs.set_route("ci-bot", "vllm", actor="other replica")
            assert await follower.refresh() is True
            assert follower.table.routes == {"ci-bot": "vllm"}
            assert await follower.refresh() is False  # nothing new: only the version was read
        finally:
            await follower.stop()

    def broken() -> int:
        raise StoreError("database is down")

    follower = RouteFollower(broken, mine.routing_table, interval_s=0.05)
    follower.table = mine.routing_table()
    with pytest.raises(StoreError):
        await follower.refresh()
    assert follower.table.routes == {"ci-bot": "vllm"}  # the last table stays in force


def test_a_store_from_before_the_api_column_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE samples (id INTEGER PRIMARY KEY, time DATETIME, source VARCHAR(16), backend VARCHAR(16),"
            " client VARCHAR(255), model VARCHAR(255), status INTEGER, ttft_ms FLOAT, e2e_ms FLOAT,"
            " output_tokens INTEGER, error_kind VARCHAR(64), run_id VARCHAR(64), concurrency INTEGER)"
        )
    with Store(f"sqlite:///{path}") as store:
        store.add_samples([RequestSample(source="gateway", backend="vllm", client="ci-bot", api="native")])
        assert [s.api for s in store.samples(source="gateway")] == ["native"]
