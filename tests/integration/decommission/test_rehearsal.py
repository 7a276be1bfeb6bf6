"""The decommission rehearsed on the simulators: Ollama's simulator in Docker, the vLLM simulator and the gateway
as processes, the real decommission deployment scheduled a few seconds ahead, approval through Prefect's resume
API, then a rollback to Ollama and forward again; and the variant where a client calls Ollama directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from o2v.decommission.rehearsal import rehearse_decommission

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_scheduled_checked_approved_stopped_rolled_back_and_forward_again(docker_client: Any, tmp_path: Path) -> None:
    summary = rehearse_decommission(tmp_path)
    assert summary.outcome == "decommissioned", summary.reasons
    assert summary.scheduled.idempotency_key == f"decommission-{summary.migration_id}"
    assert summary.approved_by == "rehearsal"
    assert summary.container_stopped
    assert summary.volume_kept
    assert [Path(p).name for p in summary.final_compose] == [
        "docker-compose.gateway.yml", "docker-compose.side-by-side.yml",
    ]
    assert "  # ollama:" in Path(summary.final_compose[0]).read_text()
    assert summary.rollback is not None
    assert summary.ollama_answers_after_rollback
    assert summary.forward_again == "decommissioned"
    assert summary.traffic_ok == summary.traffic_sent


def test_a_client_calling_ollama_directly_blocks_and_is_named(docker_client: Any, tmp_path: Path) -> None:
    summary = rehearse_decommission(tmp_path, straggler=True)
    assert summary.outcome == "blocked"
    assert summary.straggler_address
    assert [(s.address, s.method, s.path, s.requests) for s in summary.stragglers] == [
        (summary.straggler_address, "POST", "/api/generate", 3),
    ]
    assert any(summary.straggler_address in reason for reason in summary.reasons)
    assert not summary.container_stopped


def test_a_rollback_while_the_question_waits_stops_the_decommission(docker_client: Any, tmp_path: Path) -> None:
    from o2v.approvals.models import Answer
    from o2v.decommission.run import decommission
    from o2v.decommission.scene import Scene
    from o2v.gpu.verify import source_from_settings
    from o2v.rollback import route_back

    with Scene(tmp_path, min_samples=20) as scene:
        store = scene.store()
        scene.seed_cutover(store)
        assert scene.traffic(30) == 30
        settings = scene.settings()
        shown: list[str] = []

        def rollback_then_approve(evidence: str) -> Answer:
            shown.append(evidence)
            route_back(settings, store, to="ollama", reason="the nightly job broke", actor="bob")
            return Answer(decision="approve", approver="alice")

        result = decommission(settings, store, approve=rollback_then_approve, gpu=source_from_settings(settings))
        assert docker_client.containers.get(scene.container_name).status == "running"
    assert shown, f"the question was never asked: {result.outcome}: {result.reasons}"
    assert "**Stragglers:** none" in shown[0]
    assert result.outcome == "refused", result.reasons
    pending = "changed while the approval was pending: "
    assert result.reasons[0].startswith(pending + "no cutover behind it:")
    assert "is at cutover status 'rolled-back'" in result.reasons[0]
    assert result.reasons[1].startswith(pending + "clients still routed to Ollama by the gateway: 100 % of unnamed")
