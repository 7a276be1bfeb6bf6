"""Ask a person, in the Prefect UI, to decide what the data could not: pause the flow run with a form.

``ask`` pauses the current flow run (``pause_flow_run(wait_for_input=form)``); the form's description is the
evidence in Markdown, and the run resumes when someone submits the form (the UI's Resume button, or
``resume_flow_run(flow_run_id, run_input={...})`` from the API). Outside a flow run there is nobody to ask and
``ask`` says so (``None``), so library callers fall back to a non-interactive policy. Each answer is written to
the store's audit table with who answered and their comment.

Used by the validate phase (re-measure / accept / roll back) and meant for the cutover's stage promotions.
"""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.input import RunInput
from pydantic import Field

from o2v.store import Store

F = TypeVar("F", bound="Decision")


class Decision(RunInput):
    """Base of every decision form: who decides and why, for the audit log. Subclasses add ``choice``."""

    decided_by: str = Field("", description="Your name or handle (recorded in the audit log).")
    comment: str = Field("", description="Why you chose this (recorded in the audit log).")


class NoAnswer(Exception):
    """The pause timed out: nobody decided in time."""


def in_flow_run() -> bool:
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def ask(form: type[F], evidence_markdown: str, *, timeout_s: float, key: str) -> F | None:
    """Pause this flow run until a person submits ``form``; None outside a flow run; NoAnswer on timeout.

    ``key`` must differ between pauses of one run (e.g. "validate-1", "validate-2"), or Prefect takes the
    second pause for a repeat of the first.
    """
    if not in_flow_run():
        return None
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    described = form.with_initial_data(description=evidence_markdown)
    try:
        # The described form is a subclass of ``form`` (Prefect's with_initial_data), so the answer is a ``form``.
        answer: F = pause_flow_run(wait_for_input=described, timeout=max(1, int(timeout_s)), poll_interval=2, key=key)
    except FlowPauseTimeout as exc:
        raise NoAnswer(f"no decision within {timeout_s:g} s") from exc
    return answer


def record(store: Store, decision: Decision, *, action: str, target: str, detail: dict[str, Any]) -> None:
    """Audit who decided what, with their comment."""
    who = decision.decided_by.strip() or "prefect-ui (unnamed)"
    store.audit(who, action, target, {**detail, "comment": decision.comment})
