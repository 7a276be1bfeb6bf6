"""The flow's side of an approval: pause at a fixed key until a person answers, or the time runs out.

Call it from inside a flow run. The Prefect UI shows a resume form for the typed input (its choices as a list, the
evidence as the form's Markdown description); Slack gets the same question with buttons when it is configured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from o2v.approvals.models import Answer, Question, Via


class Asker(Protocol):
    """What the notifier offers: post the question, then show the answer (Slack message or console line)."""

    def ask(self, question: Question) -> dict[str, str] | None: ...
    def answered(self, posted: dict[str, str] | None, question: Question, answer: Answer) -> None: ...


class AuditSink(Protocol):
    def audit(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None: ...


def input_model(question: Question) -> Any:
    """A RunInput whose ``decision`` may only be one of the question's choices (Prefect enforces the schema)."""
    from prefect.input import RunInput
    from pydantic import Field, create_model

    decisions = tuple(choice.decision for choice in question.choices)
    return create_model(
        "ApprovalInput",
        __base__=RunInput,
        decision=(Literal[decisions], Field(..., description=" / ".join(decisions))),  # type: ignore[valid-type,arg-type]
        comment=(str, Field("", description="Why (kept in the audit log).")),
        approver=(str, Field("", description="Who decides (filled in by Slack; your name in the UI).")),
        via=(Via, Field("prefect-ui", description="Where the answer came from.")),
        at=(datetime | None, Field(None, description="When (set by Slack).")),
    )


def ask(
    question: Question, *, asker: Asker, audit: AuditSink | None, timeout_s: float, poll_interval_s: float = 5.0
) -> Answer:
    """Pause the current flow run at ``question.key``; the answer, or ``decision="timeout"`` when none came."""
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    posted = asker.ask(question)
    form = input_model(question).with_initial_data(description=_description(question))
    try:
        given = pause_flow_run(
            wait_for_input=form, key=question.key, timeout=max(1, int(timeout_s)),
            poll_interval=poll_interval_s,  # type: ignore[call-overload]  # time.sleep takes a float
        )
        answer = Answer.model_validate(given.model_dump(include=set(Answer.model_fields)))
        answer.at = answer.at or datetime.now(UTC)
    except FlowPauseTimeout:
        answer = Answer(decision="timeout", via="timeout", at=datetime.now(UTC),
                        comment=f"no answer within {timeout_s:.0f} s: taken as no")
    asker.answered(posted, question, answer)
    # The one audit entry of a decision: only here do Slack clicks, the Prefect UI form and timeouts all pass.
    if audit is not None:
        actor = f"{answer.via}:{answer.approver}" if answer.approver else answer.via
        audit.audit(actor, "approval", f"{question.migration_id}/{question.key}",
                    {"decision": answer.decision, "comment": answer.comment, "run": question.flow_run_id})
    return answer


def in_flow_run() -> bool:
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def current_flow_run_id() -> str:
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("an approval can only be asked from inside a flow run")
    return str(context.flow_run.id)


def _description(question: Question) -> str:
    choices = ", ".join(f"`{c.decision}`" for c in question.choices)
    return f"## {question.title}\n\n{question.evidence_markdown}\n\nAnswer with one of {choices}."
