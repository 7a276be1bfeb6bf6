"""Block Kit for approval questions: the evidence, one button per choice, and the message after a decision."""

from __future__ import annotations

import re
from typing import Any

from o2v.approvals.models import Answer, ButtonValue, Question

ACTION_PREFIX = "o2v-approval:"
_SECTION_LIMIT = 2900  # Slack refuses section text over 3,000 characters


def question_text(question: Question) -> str:
    return f"Approval needed: {question.title} (migration {question.migration_id})"


def question_blocks(question: Question) -> list[dict[str, Any]]:
    buttons = []
    for choice in question.choices:
        value = ButtonValue(
            run=question.flow_run_id, key=question.key, decision=choice.decision, migration=question.migration_id
        )
        button: dict[str, Any] = {
            "type": "button",
            "action_id": ACTION_PREFIX + choice.decision,
            "text": {"type": "plain_text", "text": choice.label},
            "value": value.encode(),
        }
        if choice.style:
            button["style"] = choice.style
        buttons.append(button)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(question.title, 150)}},
    ]
    if question.evidence_markdown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": to_mrkdwn(question.evidence_markdown)}})
    blocks += [
        {"type": "actions", "block_id": f"o2v-approval-{question.key}"[:255], "elements": buttons},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Or answer in the Prefect UI (key `{question.key}`)."}],
        },
    ]
    return blocks


def decided_blocks(question: Question, answer: Answer) -> list[dict[str, Any]]:
    """The same message once answered: the evidence stays, the buttons give way to who decided and when."""
    blocks = [b for b in question_blocks(question) if b["type"] not in {"actions", "context"}]
    when = answer.at.strftime("%Y-%m-%d %H:%M:%S UTC") if answer.at else "now"
    who = f"<@{answer.approver}>" if answer.approver else "someone"
    note = f": {answer.comment}" if answer.comment else ""
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"*{answer.decision}* by {who} via {answer.via} at {when}{note}"}],
        }
    )
    return blocks


def to_mrkdwn(markdown: str) -> str:
    """Slack's mrkdwn has no headings or tables: headings become bold lines, tables a fixed-width block."""
    out: list[str] = []
    table: list[str] = []
    for line in markdown.splitlines():
        if line.lstrip().startswith("|"):
            if not re.fullmatch(r"\s*\|[\s|:-]+\|\s*", line):  # drop the |---|---| separator row
                table.append(line.strip())
            continue
        if table:
            out.append("```" + "\n".join(table) + "```")
            table = []
        heading = re.match(r"#{1,6}\s+(.*)", line)
        line = f"*{heading.group(1)}*" if heading else line
        out.append(re.sub(r"\*\*(.+?)\*\*", r"*\1*", line))
    if table:
        out.append("```" + "\n".join(table) + "```")
    return _clip("\n".join(out).strip(), _SECTION_LIMIT)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
