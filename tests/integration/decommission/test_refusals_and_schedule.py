"""Bad input refuses and changes nothing; the schedule is made once, moved on after a cancel, cancelled by a
rollback; a rollback to Ollama without its kept resources says what is gone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import o2v
from flows.decommission import DecommissionParameters, decommission
from o2v.config import Settings
from o2v.decommission.models import KeptResources
from o2v.decommission.ollama_host import DockerOllama
from o2v.decommission.run import assess
from o2v.decommission.schedule import cancel_scheduled_decommission, load_schedule, schedule_decommission
from o2v.errors import DeployError, GateFailed
from o2v.store import Store

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("prefect_harness")]


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        migration_id=f"m-{uuid.uuid4().hex[:6]}", workdir=tmp_path, store={"url": f"sqlite:///{tmp_path / 'o2v.db'}"},
        ollama={"container_name": "o2v-test-no-such-ollama"}, **extra,
    )  # type: ignore[arg-type]  # fmt: skip


def test_no_cutover_routes_on_ollama_and_no_container_are_all_refused(docker_client: Any, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = Store.from_settings(settings)
    store.set_percent(50, actor="test", reason="half way")
    version = store.routing_version()
    result = assess(settings, store)
    assert result.outcome == "refused"
    assert len(result.reasons) == 3
    assert result.reasons[0].startswith(f"no cutover behind it: migration {settings.migration_id!r} is at cutover "
                                        "status 'not-started', 0 of 3 stages promoted")  # fmt: skip
    assert "50 % of unnamed clients" in result.reasons[1]
    assert "'o2v-test-no-such-ollama' was not found" in result.reasons[2]
    assert store.routing_version() == version  # nothing changed


def test_the_flow_ends_failed_with_every_reason(docker_client: Any, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    config = tmp_path / "migration.yaml"
    config.write_text(settings.model_dump_json(exclude={"migration_id"}))
    with pytest.raises(GateFailed, match="decommission \\(refused\\) failed: no cutover behind it"):
        decommission(DecommissionParameters(config_path=str(config), migration_id=settings.migration_id))
    store = Store.from_settings(settings)
    (entry,) = [e for e in store.ledger(settings.migration_id) if e.phase == "decommission"]
    assert entry.status == "failed"
    assert entry.result is not None
    assert entry.result["outcome"] == "refused"


def test_schedule_once_then_cancel_then_a_fresh_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path, cutover={"decommission_after_days": 7})
    store = Store.from_settings(settings)
    decommission.to_deployment(name="decommission").apply()  # type: ignore[union-attr]
    now = datetime.now(UTC)
    first = schedule_decommission(settings, store, now=now)
    again = schedule_decommission(settings, store, now=now + timedelta(minutes=5))  # a re-run of the cutover
    assert again.flow_run_id == first.flow_run_id
    assert first.idempotency_key == f"decommission-{settings.migration_id}"
    assert abs((first.scheduled_time - (now + timedelta(days=7))).total_seconds()) < 1
    assert "cancel the flow run" in first.sentence()

    from o2v.rollback import route_back  # the routing half; roll_back adds the cancel below

    route_back(settings, store, to="ollama", reason="test", actor="test")
    assert cancel_scheduled_decommission(store, settings.migration_id, reason="rolled back", actor="test")
    assert not cancel_scheduled_decommission(store, settings.migration_id, reason="twice", actor="test")
    assert _state(first.flow_run_id) == "CANCELLED"
    fresh = schedule_decommission(settings, store, now=now)
    assert fresh.flow_run_id != first.flow_run_id
    assert fresh.idempotency_key == f"decommission-{settings.migration_id}-1"
    stored = load_schedule(store, settings.migration_id)
    assert stored is not None
    assert (stored.flow_run_id, stored.generation, stored.cancelled) == (fresh.flow_run_id, 1, False)
    actions = [a.action for a in store.audit_log()]
    assert actions.count("decommission-scheduled") == 3
    assert "decommission-cancelled" in actions


def test_a_rollback_cancels_the_scheduled_decommission(tmp_path: Path) -> None:
    from o2v.rollback import roll_back

    settings = _settings(tmp_path, vllm={"backend": "process", "container_name": f"o2v-test-{uuid.uuid4().hex[:6]}"})
    store = Store.from_settings(settings)
    decommission.to_deployment(name="decommission").apply()  # type: ignore[union-attr]
    scheduled = schedule_decommission(settings, store)
    roll_back(settings, store, reason="vLLM misbehaves", actor="alice", keep_vllm=True)
    assert _state(scheduled.flow_run_id) == "CANCELLED"


def test_restore_names_what_is_gone(docker_client: Any) -> None:
    with pytest.raises(DeployError, match="container 'o2v-test-no-such-ollama'"):
        DockerOllama("o2v-test-no-such-ollama").check_kept(None)
    name = f"o2v-test-kept-{uuid.uuid4().hex[:6]}"
    container = docker_client.containers.create(f"o2v-sim-ollama:{o2v.__version__}", name=name)
    try:
        kept = KeptResources(container=name, container_id=container.id, image="o2v-sim-ollama",
                             image_id=container.image.id, volumes=[f"{name}-gone:/root/.ollama"])  # fmt: skip
        with pytest.raises(DeployError, match=f"volume {name}-gone.*uncommenting it"):
            DockerOllama(name).check_kept(kept)
    finally:
        container.remove(force=True)


def _state(flow_run_id: str) -> str:
    from uuid import UUID

    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
    assert run.state is not None
    return run.state.type.value


def test_after_the_cutover_a_missing_deployment_is_said_not_raised(tmp_path: Path) -> None:
    from o2v.decommission.schedule import schedule_after_cutover

    settings = _settings(tmp_path)
    text = schedule_after_cutover(settings, Store.from_settings(settings), config_path=None,
                                  deployment="decommission/not-deployed")  # fmt: skip
    assert text.startswith("Ollama's decommission is not scheduled: no 'decommission/not-deployed' deployment")
