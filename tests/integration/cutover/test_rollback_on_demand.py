"""On-demand rollback at any stage: the routing table goes back (all to Ollama, or the previous stage) and the
cutover's position says so, so a re-run resumes at the stage that was in force."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from o2v.config import Settings
from o2v.cutover.position import load_position, save_position
from o2v.rollback import route_back
from o2v.store import Store

STAGES = [{"clients": ["ci-bot"]}, {"clients": ["notebooks"], "percent": 25}, {"percent": 100}]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        migration_id="m1", workdir=tmp_path, store={"url": f"sqlite:///{tmp_path / 'o2v.db'}"},
        vllm={"backend": "process", "container_name": "o2v-vllm-absent"}, cutover={"stages": STAGES},
    )  # type: ignore[arg-type]  # fmt: skip


def at_stage_two(store: Store) -> None:
    store.set_routes({"ci-bot": "vllm", "notebooks": "vllm"}, actor="cutover")
    store.set_percent(25, actor="cutover")
    save_position(store, load_position(store, "m1"), completed=1, in_force=2, status="watching")


def test_back_to_the_previous_stage_keeps_the_earlier_clients_on_vllm(settings: Settings) -> None:
    store = Store.from_settings(settings)
    at_stage_two(store)
    table = route_back(settings, store, to="previous", reason="p95 too high", actor="cutover:analysis")
    assert (table.routes, table.percent) == ({"ci-bot": "vllm", "notebooks": "ollama"}, 0.0)
    position = load_position(store, "m1")
    assert (position.in_force, position.completed, position.status) == (1, 1, "rolled-back")
    [entry] = [e for e in store.audit_log() if e.action == "route-back"]
    assert entry.detail == {"reason": "p95 too high", "to": "stage-1", "from": 2}


@pytest.mark.usefixtures("prefect_harness")
def test_the_rollback_flow_routes_everyone_back_at_any_stage(settings: Settings, tmp_path: Path) -> None:
    from flows.rollback import RollbackParameters, rollback

    config = tmp_path / "migration.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json", exclude={"models"})))
    store = Store.from_settings(settings)
    at_stage_two(store)
    result = rollback(RollbackParameters(config_path=str(config), reason="on call says so", actor="dana"))
    table = store.routing_table()
    assert (set(table.routes.values()), table.percent) == ({"ollama"}, 0.0)
    position = load_position(store, "m1")
    assert (position.in_force, position.completed, position.status) == (0, 1, "rolled-back")
    assert position.next_stage == 2  # a re-run asks for stage 2 again
    assert result is not None  # vLLM's teardown ran too (absent: nothing to stop)
    actions = [(e.actor, e.action) for e in store.audit_log()]
    assert ("dana", "rollback_all") in actions
    assert ("dana", "route-back") in actions
    assert ("dana", "rollback") in actions
