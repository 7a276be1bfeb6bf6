"""Approval messages: what Slack shows, and what a button carries back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from o2v.approvals.blocks import ACTION_PREFIX, decided_blocks, question_blocks, to_mrkdwn
from o2v.approvals.models import Answer, ButtonValue, Choice, Question
from o2v.errors import ApprovalError

QUESTION = Question(flow_run_id="run-1", key="stage-2", migration_id="m1", title="Move notebook-team to vLLM",
                    evidence_markdown="## Evidence\n\n| metric | ollama | vllm |\n|---|---|---|\n| p95 | 2.1 | 0.9 |")


def test_each_choice_is_a_button_that_names_the_run_and_the_question() -> None:
    [actions] = [b for b in question_blocks(QUESTION) if b["type"] == "actions"]
    values = [ButtonValue.decode(e["value"]) for e in actions["elements"]]
    assert [(v.run, v.key, v.decision) for v in values] == [
        ("run-1", "stage-2", "approve"),
        ("run-1", "stage-2", "reject"),
    ]
    assert [e["action_id"] for e in actions["elements"]] == [ACTION_PREFIX + "approve", ACTION_PREFIX + "reject"]
    assert [e.get("style") for e in actions["elements"]] == ["primary", "danger"]


def test_evidence_becomes_slack_mrkdwn_within_its_limit() -> None:
    text = to_mrkdwn(QUESTION.evidence_markdown)
    assert text.startswith("*Evidence*")
    assert "```| metric | ollama | vllm |\n| p95 | 2.1 | 0.9 |```" in text
    assert "|---|" not in text
    assert len(to_mrkdwn("x" * 10_000)) <= 2900


def test_a_decided_question_keeps_its_evidence_and_loses_its_buttons() -> None:
    answer = Answer(decision="reject", approver="U1", via="slack", at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
                    comment="p95 regressed")
    blocks = decided_blocks(QUESTION, answer)
    assert not [b for b in blocks if b["type"] == "actions"]
    assert blocks[-1]["elements"][0]["text"] == "*reject* by <@U1> via slack at 2026-12-02 10:00:00 UTC: p95 regressed"


def test_other_choices_and_bad_button_values() -> None:
    question = QUESTION.model_copy(update={"choices": [Choice(decision="re-measure", label="Measure again"),
                                                        Choice(decision="accept", label="Accept", style="primary")]})
    [actions] = [b for b in question_blocks(question) if b["type"] == "actions"]
    assert [ButtonValue.decode(e["value"]).decision for e in actions["elements"]] == ["re-measure", "accept"]
    with pytest.raises(ApprovalError, match="not an o2v approval button"):
        ButtonValue.decode('{"run": 1}')
    with pytest.raises(ValueError, match="pattern"):
        Choice(decision="Approve Now", label="x")
