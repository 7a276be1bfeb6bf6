"""What an approval question and its answer are, independent of where the answer comes from."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from o2v.errors import ApprovalError

Via = Literal["prefect-ui", "slack", "timeout", "cli"]


class Choice(BaseModel):
    """One answer a person may give, as a button: ``decision`` is what the flow receives."""

    decision: str = Field(..., pattern=r"^[a-z][a-z-]{0,30}$")
    label: str
    style: Literal["primary", "danger"] | None = None


APPROVE_OR_REJECT = (
    Choice(decision="approve", label="Approve", style="primary"),
    Choice(decision="reject", label="Reject", style="danger"),
)


class Question(BaseModel):
    """A paused flow run waiting at ``key`` for one of ``choices``."""

    flow_run_id: str
    key: str
    migration_id: str
    title: str
    evidence_markdown: str = ""
    choices: list[Choice] = Field(default_factory=lambda: list(APPROVE_OR_REJECT))


class Answer(BaseModel):
    """What resumes the run: the same fields whether it came from Slack or the Prefect UI."""

    decision: str
    comment: str = ""
    approver: str = ""
    via: Via = "prefect-ui"
    at: datetime | None = None


class ButtonValue(BaseModel):
    """The value a Slack button carries back: enough to find the run and check the question is still open."""

    run: str
    key: str
    decision: str
    migration: str = ""

    def encode(self) -> str:
        return json.dumps(self.model_dump(), separators=(",", ":"))

    @classmethod
    def decode(cls, value: str) -> ButtonValue:
        try:
            return cls.model_validate_json(value)
        except ValidationError as exc:
            raise ApprovalError(f"not an o2v approval button (value {value[:80]!r})") from exc
