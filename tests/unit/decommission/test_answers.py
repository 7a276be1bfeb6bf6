"""A no, or no answer in time, leaves Ollama running and nothing kept for a rollback; both are audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from o2v.approvals.models import Answer
from o2v.config import Settings
from o2v.decommission.models import DecommissionResult
from o2v.decommission.ollama_host import DockerOllama
from o2v.decommission.restore import RESULT_STATE
from o2v.decommission.run import evidence_of, retire
from o2v.gpu.nvml import RecordedNVML
from o2v.store import Store

GPUS = Path(__file__).parents[2] / "data" / "gpus"


@pytest.mark.parametrize(
    ("answer", "outcome", "reason"),
    [
        (Answer(decision="timeout", via="timeout", comment="no answer within 3600 s: taken as no"), "timed-out",
         "timed-out: no answer within 3600 s: taken as no; Ollama left running"),
        (Answer(decision="reject", approver="alice", comment="the nightly job"), "rejected",
         "rejected by alice: the nightly job; Ollama left running"),
    ],
)  # fmt: skip
def test_no_means_nothing_is_stopped(tmp_path: Path, answer: Answer, outcome: str, reason: str) -> None:
    settings = Settings(migration_id="m1", workdir=tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    ready = DecommissionResult(migration_id="m1", outcome="ready")
    # The container name leads nowhere: a "no" must not even look for it.
    result = retire(settings, store, ready, answer, gpu=RecordedNVML(GPUS / "a100-80gb.json"),
                    ollama=DockerOllama("o2v-never-touched"))  # fmt: skip
    assert result.outcome == outcome
    assert result.reasons == [reason]
    assert result.kept is None
    assert store.get_state(RESULT_STATE.format("m1")) is None
    assert [e.action for e in store.audit_log()] == [f"decommission-{outcome}"]


def test_evidence_needs_a_ready_assessment() -> None:
    with pytest.raises(ValueError, match="the assessment ended 'blocked', not 'ready'"):
        evidence_of(DecommissionResult(migration_id="m1", outcome="blocked"))
