"""Telling the team what the migration is doing: Slack when configured, else the console and a Prefect artifact.

Every phase message of one migration is a reply in ONE Slack thread, so the channel shows one line per migration
(the parent, kept up to date with chat.update) instead of a wall of messages. The parent's ``ts`` lives in the
store (``slack.thread.<migration_id>``) so re-runs and later flows (decommission, rollback) answer in the same
thread.

A notification is never worth a failed migration: every Slack error (rate limits past the retries, network, bad
token, deleted channel) is logged and the message goes to the console instead. Nothing here raises.
Secrets are never formatted into messages: callers pass figures, and the token is only handed to slack_sdk.
As a last line of defence every text and figure passes ``o2v.redact`` before it is printed, posted or kept.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from o2v.redact import redact

if TYPE_CHECKING:
    from o2v.approvals.models import Answer, Question
    from o2v.config import Settings
    from o2v.store import Store

log = logging.getLogger(__name__)

STATUS_EMOJI = {
    "started": ":hourglass_flowing_sand:",
    "running": ":hourglass_flowing_sand:",
    "succeeded": ":white_check_mark:",
    "skipped": ":fast_forward:",
    "failed": ":x:",
    "waiting": ":raised_hand:",
    "rolled back": ":leftwards_arrow_with_hook:",
}
ALERT_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
MAX_FIELDS = 10  # Block Kit: at most 10 fields per section
MAX_FIELD_CHARS = 1900  # Block Kit: 2000 characters per text object
STATE_PREFIX = "slack.thread."
STALE_THREAD_ERRORS = {"thread_not_found", "message_not_found", "channel_not_found", "is_archived"}


class Notifier(Protocol):
    def phase(
        self, migration_id: str, phase: str, status: str, figures: dict[str, str], flow_run_url: str | None = None
    ) -> None: ...

    def alert(
        self,
        text: str,
        *,
        figures: dict[str, str] | None = None,
        flow_run_url: str | None = None,
        level: str = "warning",
    ) -> None: ...

    def ask(self, question: Question) -> dict[str, str] | None: ...

    def answered(self, posted: dict[str, str] | None, question: Question, answer: Answer) -> None: ...


def _safe(figures: dict[str, str] | None) -> dict[str, str]:
    return {redact(str(k)): redact(str(v)) for k, v in (figures or {}).items()}


# -- message bodies (pure functions: tested without any server) ---------------------------------------------------
def phase_text(migration_id: str, phase: str, status: str) -> str:
    return f"{STATUS_EMOJI.get(status, ':small_blue_diamond:')} {phase}: {status} (migration {migration_id})"


def phase_blocks(
    migration_id: str, phase: str, status: str, figures: dict[str, str], flow_run_url: str | None
) -> list[dict[str, Any]]:
    """Block Kit for one phase: a headline, the key figures as fields, and a context line with the run link."""
    headline = f"{STATUS_EMOJI.get(status, ':small_blue_diamond:')} *{_escape(phase)}*: {_escape(status)}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": headline}}]
    blocks += _figure_blocks(figures)
    blocks.append(_context(f"migration `{_escape(migration_id)}`", flow_run_url))
    return blocks


def alert_blocks(text: str, figures: dict[str, str], flow_run_url: str | None, level: str) -> list[dict[str, Any]]:
    headline = f"{ALERT_EMOJI.get(level, ':warning:')} {_escape(text)}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": _clip(headline)}}]
    blocks += _figure_blocks(figures)
    blocks.append(_context("o2v alert", flow_run_url))
    return blocks


def parent_blocks(migration_id: str, phase: str, status: str, flow_run_url: str | None) -> list[dict[str, Any]]:
    """The thread's parent: which migration, and the latest phase (updated in place after every reply)."""
    text = (
        f":arrows_counterclockwise: *Ollama -> vLLM migration `{_escape(migration_id)}`*\n"
        f"latest: {STATUS_EMOJI.get(status, ':small_blue_diamond:')} {_escape(phase)}: {_escape(status)}"
        " - details in the thread"
    )
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, _context("o2v", flow_run_url)]


def _figure_blocks(figures: dict[str, str]) -> list[dict[str, Any]]:
    items = [(str(k), str(v)) for k, v in figures.items()]
    blocks = []
    for start in range(0, len(items), MAX_FIELDS):
        fields = [
            {"type": "mrkdwn", "text": _clip(f"*{_escape(k)}*\n{_escape(v)}")}
            for k, v in items[start : start + MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    return blocks


def _context(label: str, flow_run_url: str | None) -> dict[str, Any]:
    parts = [label]
    if flow_run_url:
        parts.append(f"<{flow_run_url}|Prefect flow run>")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(parts)}]}


def _escape(text: str) -> str:
    # Slack's three control characters; everything else is shown as typed.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_FIELD_CHARS else text[: MAX_FIELD_CHARS - 3] + "..."


# -- console ------------------------------------------------------------------------------------------------------
class ConsoleNotifier:
    """Prints each message, and leaves a Markdown artifact on the Prefect flow run when there is one."""

    def __init__(self, stream: TextIO | None = None, *, artifacts: bool = True) -> None:
        self.stream = stream
        self.artifacts = artifacts
        self.sent: list[str] = []

    def phase(
        self, migration_id: str, phase: str, status: str, figures: dict[str, str], flow_run_url: str | None = None
    ) -> None:
        head = redact(f"[o2v] {migration_id} | {phase}: {status}")
        self._emit(head, _safe(figures), flow_run_url, key=f"notify-{migration_id}")

    def alert(
        self,
        text: str,
        *,
        figures: dict[str, str] | None = None,
        flow_run_url: str | None = None,
        level: str = "warning",
    ) -> None:
        self._emit(redact(f"[o2v {level}] {text}"), _safe(figures), flow_run_url, key="notify-alerts")

    def ask(self, question: Question) -> dict[str, str] | None:
        """No Slack: the question waits in the Prefect UI (its resume form), and the console says so."""
        head = f"[o2v] {question.migration_id} | approval needed: {question.title}"
        choices = "/".join(c.decision for c in question.choices)
        self._emit(head, {"answer": f"resume the flow run in the Prefect UI ({choices}), key {question.key}"},
                   None, key=f"notify-{question.migration_id}")
        return None

    def answered(self, posted: dict[str, str] | None, question: Question, answer: Answer) -> None:
        who = f" by {answer.approver}" if answer.approver else ""
        self._emit(f"[o2v] {question.migration_id} | {question.title}: {answer.decision}{who} via {answer.via}",
                   {"comment": answer.comment} if answer.comment else {}, None,
                   key=f"notify-{question.migration_id}")

    def _emit(self, head: str, figures: dict[str, str], flow_run_url: str | None, *, key: str) -> None:
        lines = [head] + [f"    {k}: {v}" for k, v in figures.items()]
        if flow_run_url:
            lines.append(f"    flow run: {flow_run_url}")
        text = "\n".join(lines)
        self.sent.append(text)
        try:
            print(text, file=self.stream or sys.stdout, flush=True)
        except (OSError, ValueError):  # closed stream: the artifact and the log still carry it
            log.warning("could not print a notification: %s", head)
        if self.artifacts:
            _markdown_artifact(key, head, figures, flow_run_url)


def _markdown_artifact(key: str, head: str, figures: dict[str, str], flow_run_url: str | None) -> None:
    try:
        from prefect.artifacts import create_markdown_artifact
        from prefect.context import get_run_context
        from prefect.exceptions import MissingContextError
    except ImportError:
        return
    try:
        get_run_context()
    except MissingContextError:
        return  # not inside a flow or task run: the console line is all there is
    lines = [f"### {head}", ""]
    if figures:
        lines += ["| figure | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in figures.items()], ""]
    if flow_run_url:
        lines.append(f"[Prefect flow run]({flow_run_url})")
    safe_key = re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "notify"
    try:
        create_markdown_artifact(key=safe_key, markdown="\n".join(lines), description="o2v notification")
    except Exception as exc:  # noqa: BLE001 - an artifact is a courtesy, never a reason to fail
        log.warning("could not create the notification artifact %s: %s", safe_key, exc)


# -- Slack --------------------------------------------------------------------------------------------------------
class SlackNotifier:
    """Posts Block Kit messages with slack_sdk; falls back to the console on any Slack failure."""

    def __init__(
        self,
        token: str,
        channel: str,
        *,
        base_url: str = "https://slack.com/api/",
        store: Store | None = None,
        timeout_s: int = 10,
        rate_limit_retries: int = 2,
        fallback: ConsoleNotifier | None = None,
    ) -> None:
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

        self.channel = channel
        self.store = store
        self.fallback = fallback or ConsoleNotifier()
        self.failures = 0
        self._threads: dict[str, dict[str, str]] = {}
        self.client = WebClient(
            token=token,
            base_url=base_url,
            timeout=timeout_s,
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=2),
                RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
            ],
        )

    def phase(
        self, migration_id: str, phase: str, status: str, figures: dict[str, str], flow_run_url: str | None = None
    ) -> None:
        figures = _safe(figures)
        try:
            thread = self._reply(migration_id, phase, status, figures, flow_run_url)
            self.client.chat_update(
                channel=thread["channel"],
                ts=thread["ts"],
                text=f"Ollama -> vLLM migration {migration_id}",
                blocks=parent_blocks(migration_id, phase, status, flow_run_url),
            )
        except Exception as exc:  # noqa: BLE001 - see the module docstring: Slack never fails a flow
            self._failed(exc)
            self.fallback.phase(migration_id, phase, status, figures, flow_run_url)

    def alert(
        self,
        text: str,
        *,
        figures: dict[str, str] | None = None,
        flow_run_url: str | None = None,
        level: str = "warning",
    ) -> None:
        text, figures = redact(text), _safe(figures)
        try:
            self.client.chat_postMessage(
                channel=self.channel,
                text=f"{ALERT_EMOJI.get(level, ':warning:')} {text}",
                blocks=alert_blocks(text, figures or {}, flow_run_url, level),
            )
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            self._failed(exc)
            self.fallback.alert(text, figures=figures, flow_run_url=flow_run_url, level=level)

    def ask(self, question: Question) -> dict[str, str] | None:
        """The question with its buttons in the migration's thread; None (console instead) when Slack fails."""
        from o2v.approvals.blocks import question_blocks, question_text

        try:
            thread = self._thread(question.migration_id, "approval", "waiting", None)
            response = self.client.chat_postMessage(
                channel=thread["channel"], thread_ts=thread["ts"], text=question_text(question),
                blocks=question_blocks(question),
            )
            return {"channel": str(response["channel"]), "ts": str(response["ts"])}
        except Exception as exc:  # noqa: BLE001 - the Prefect UI still takes the answer
            self._failed(exc)
            return self.fallback.ask(question)

    def answered(self, posted: dict[str, str] | None, question: Question, answer: Answer) -> None:
        """Buttons give way to who decided and when (also when the answer came from the Prefect UI or a timeout)."""
        from o2v.approvals.blocks import decided_blocks

        if posted is None:
            self.fallback.answered(posted, question, answer)
            return
        try:
            self.client.chat_update(
                channel=posted["channel"], ts=posted["ts"], text=f"{question.title}: {answer.decision}",
                blocks=decided_blocks(question, answer),
            )
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            self.fallback.answered(posted, question, answer)

    def check(self) -> str:
        """auth.test: the bot's name, or raise. For ``o2v``'s setup checks, not for flows."""
        response = self.client.auth_test()
        return str(response.get("user") or response.get("bot_id") or "unknown")

    def _reply(
        self, migration_id: str, phase: str, status: str, figures: dict[str, str], flow_run_url: str | None
    ) -> dict[str, str]:
        """Reply in the migration's thread; a stored thread that no longer exists starts a new one (once)."""
        from slack_sdk.errors import SlackApiError

        for attempt in (1, 2):
            thread = self._thread(migration_id, phase, status, flow_run_url)
            try:
                self.client.chat_postMessage(
                    channel=thread["channel"],
                    thread_ts=thread["ts"],
                    text=phase_text(migration_id, phase, status),
                    blocks=phase_blocks(migration_id, phase, status, figures, flow_run_url),
                )
                return thread
            except SlackApiError as exc:
                if attempt == 2 or exc.response.get("error") not in STALE_THREAD_ERRORS:
                    raise
                log.warning(
                    "the Slack thread of migration %s is gone (%s); starting a new one",
                    migration_id,
                    exc.response.get("error"),
                )
                self._threads.pop(STATE_PREFIX + migration_id, None)
                self._save(STATE_PREFIX + migration_id, {})
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _thread(self, migration_id: str, phase: str, status: str, flow_run_url: str | None) -> dict[str, str]:
        key = STATE_PREFIX + migration_id
        thread = self._threads.get(key) or self._load(key)
        if thread is None:
            response = self.client.chat_postMessage(
                channel=self.channel,
                text=f"Ollama -> vLLM migration {migration_id}",
                blocks=parent_blocks(migration_id, phase, status, flow_run_url),
            )
            thread = {"channel": str(response["channel"]), "ts": str(response["ts"])}
            self._save(key, thread)
        self._threads[key] = thread
        return thread

    def _load(self, key: str) -> dict[str, str] | None:
        if self.store is None:
            return None
        try:
            value = self.store.get_state(key)
        except Exception as exc:  # noqa: BLE001 - no stored thread means a new one, not a failure
            log.warning("could not read the Slack thread for %s from the store: %s", key, exc)
            return None
        if value and value.get("ts") and value.get("channel"):
            return {"channel": str(value["channel"]), "ts": str(value["ts"])}
        return None

    def _save(self, key: str, thread: dict[str, str]) -> None:
        if self.store is None:
            return
        try:
            self.store.set_state(key, dict(thread))
        except Exception as exc:  # noqa: BLE001
            log.warning("could not keep the Slack thread for %s in the store: %s", key, exc)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        detail = getattr(getattr(exc, "response", None), "data", None)
        error = detail.get("error") if isinstance(detail, dict) else None
        log.warning(
            "Slack message not delivered (%s%s); printed to the console instead. Check slack.bot_token, "
            "slack.channel and that the bot is in the channel.",
            type(exc).__name__,
            f": {error}" if error else f": {exc}",
        )


def notifier_from_settings(settings: Settings, store: Store | None = None) -> SlackNotifier | ConsoleNotifier:
    """Slack when a bot token is configured, the console otherwise (rehearsals, laptops, CI)."""
    slack = settings.slack
    if slack.enabled and slack.bot_token is not None:
        return SlackNotifier(slack.bot_token.get_secret_value(), slack.channel, base_url=slack.base_url, store=store)
    return ConsoleNotifier()
