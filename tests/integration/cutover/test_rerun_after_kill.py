"""A cutover run killed while a stage was watched leaves the routing as it was; the re-run asks for that stage
again. Here vLLM cannot even be asked for its models, so every measurement errs and the stage rolls back."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.engines import free_port

from o2v.cutover.position import load_position, save_position
from o2v.errors import GateFailed
from o2v.store import Store

from .rig import Answerer, resume, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_killed_stage_is_asked_again_and_unmeasurable_traffic_rolls_back(tmp_path: Path) -> None:
    from flows.cutover import CutoverParameters, cutover

    store_url = f"sqlite:///{tmp_path / 'o2v.db'}"
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: /v1/models cannot be read
    cut = {"stages": [{"clients": ["team-a"], "watch_window_s": 60, "interval_s": 0.2}, {"percent": 100}],
           "consecutive_error_limit": 2}  # fmt: skip
    config = write_config(tmp_path / "migration.yaml", ollama=nowhere, vllm=nowhere, store_url=store_url, cutover=cut)
    with Store(store_url) as store:
        # What a worker killed during stage 1's watch leaves behind: stage 1's routes, the position "watching".
        store.set_route("team-a", "vllm", actor="cutover:dana")
        save_position(store, load_position(store, "cutover-test"), in_force=1, status="watching")
        version = store.routing_version()
        with Answerer(store, "cutover-test", {"stage-1": resume("approve")}) as answerer:
            with pytest.raises(GateFailed, match="3 measurement errors in a row"):
                cutover(CutoverParameters(config_path=str(config)))
        assert answerer.answered == ["stage-1"]  # asked again, at the stage that was being watched
        table = store.routing_table()
        assert table.version > version
        assert (table.routes, table.percent) == ({"team-a": "ollama"}, 0.0)
        position = load_position(store, "cutover-test")
        assert (position.status, position.completed, position.in_force) == ("rolled-back", 0, 0)
        [row] = [e for e in store.ledger("cutover-test") if e.phase == "cutover-stage-1"]
        assert row.status == "failed"
        assert "measurement failed" in str(row.result)
