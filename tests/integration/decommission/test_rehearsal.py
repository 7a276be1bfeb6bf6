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
