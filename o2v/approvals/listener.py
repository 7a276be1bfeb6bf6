"""The Slack side of an approval: a button click becomes a resumed flow run, or a polite refusal.

Transport-free: ``ApprovalListener.handle`` takes the interaction payload Slack sends for a button click
(``block_actions``), so the Socket Mode loop (``socket_mode.py``) and the tests feed it the same dictionaries.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from o2v.approvals.blocks import ACTION_PREFIX
from o2v.approvals.models import Answer, ButtonValue
from o2v.errors import ApprovalError

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
Outcome = Literal["resumed", "refused", "closed", "ignored"]
GROUP_CACHE_S = 60.0


class PausedRuns(Protocol):
    async def paused_key(self, flow_run_id: str) -> str | None: ...
    async def resume(self, flow_run_id: str, run_input: dict[str, Any]) -> None: ...


class AuditSink(Protocol):
    def audit(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None: ...


class Approvers:
    """Who may answer: Slack user ids (``U…``/``W…``) and user groups (``S…``, members read with
    ``usergroups.users.list`` and kept for a minute, so a change in the group applies quickly)."""

    def __init__(self, entries: list[str], web: AsyncWebClient) -> None:
        self.users = {e for e in entries if not e.startswith("S")}
        self.groups = [e for e in entries if e.startswith("S")]
        self.web = web
        self._members: dict[str, tuple[float, set[str]]] = {}

    async def allows(self, user_id: str) -> bool:
        if user_id in self.users:
            return True
        for group in self.groups:
            if user_id in await self._group(group):
                return True
        return False

    async def _group(self, group: str) -> set[str]:
        cached = self._members.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_CACHE_S:
            return cached[1]
        try:
            response = await self.web.usergroups_users_list(usergroup=group)
            members = {str(u) for u in response.get("users") or []}
        except Exception as exc:  # noqa: BLE001 - an unreadable group allows nobody; it never allows everybody
            log.warning("could not read Slack user group %s (%s): its members cannot approve now", group, exc)
            members = set()
        self._members[group] = (time.monotonic(), members)
        return members


class ApprovalListener:
    def __init__(
        self, web: AsyncWebClient, approvers: Approvers, runs: PausedRuns, audit: AuditSink | None = None
    ) -> None:
        self.web = web
        self.approvers = approvers
        self.runs = runs
        self.audit = audit

    async def handle(self, payload: dict[str, Any]) -> Outcome:
        """One interaction payload; anything that is not an o2v approval button is ignored."""
        if payload.get("type") != "block_actions":
            return "ignored"
        actions = [a for a in payload.get("actions") or [] if str(a.get("action_id", "")).startswith(ACTION_PREFIX)]
        if not actions:
            return "ignored"
        user = str((payload.get("user") or {}).get("id") or "")
        channel = str((payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id"))
        try:
            value = ButtonValue.decode(str(actions[0].get("value") or ""))
        except ApprovalError as exc:
            await self._tell(channel, user, f"This button cannot be used: {exc}")
            return "refused"
        target = f"{value.migration}/{value.key}"
        if not await self.approvers.allows(user):
            self._audit(f"slack:{user}", "approval-refused", target, {"decision": value.decision, "why": "not listed"})
            await self._tell(channel, user, "You are not in slack.approvers for this migration, so your answer was "
                             "not used. Ask one of the approvers.")
            return "refused"
        paused_at = await self.runs.paused_key(value.run)
        if paused_at != value.key:
            await self._tell(channel, user, "This question is closed: the run is no longer waiting for it "
                             f"({'paused at ' + paused_at if paused_at else 'not paused'}).")
            return "closed"
        answer = Answer(decision=value.decision, approver=user, via="slack", at=datetime.now(UTC))
        try:
            await self.runs.resume(value.run, answer.model_dump(mode="json"))
        except Exception as exc:  # noqa: BLE001 - Prefect said no (timed out, schema): tell the person why
            await self._tell(channel, user, f"Prefect did not accept the answer: {exc}")
            return "closed"
        # The decision itself is audited by the flow that asked (pause.ask), which sees every answer once.
        await self._rewrite(payload, answer)
        return "resumed"

    async def _rewrite(self, payload: dict[str, Any], answer: Answer) -> None:
        message = payload.get("message") or {}
        channel = str((payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id"))
        blocks = [b for b in message.get("blocks") or [] if b.get("type") not in {"actions", "context"}]
        when = (answer.at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
        decided = f"*{answer.decision}* by <@{answer.approver}> via Slack at {when}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": decided}]})
        try:
            await self.web.chat_update(channel=channel, ts=str(message.get("ts")), text=decided, blocks=blocks)
        except Exception as exc:  # noqa: BLE001 - the decision stands; only the message stays as it was
            log.warning("could not update the approval message (%s); the decision was recorded", exc)

    async def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            await self.web.chat_postEphemeral(channel=channel, user=user, text=text)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not send an ephemeral message to %s (%s): %s", user, exc, text)

    def _audit(self, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        if self.audit is not None:
            self.audit.audit(actor, action, target, detail)


class PrefectRuns:
    """Paused runs as the Prefect API sees them."""

    async def paused_key(self, flow_run_id: str) -> str | None:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            run = await client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
        state = run.state
        if state is None or not state.is_paused():
            return None
        return state.state_details.pause_key

    async def resume(self, flow_run_id: str, run_input: dict[str, Any]) -> None:
        from uuid import UUID

        from prefect.flow_runs import aresume_flow_run

        await aresume_flow_run(UUID(flow_run_id), run_input=run_input)
