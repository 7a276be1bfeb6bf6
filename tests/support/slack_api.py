"""A local HTTP server that speaks enough of the Slack Web API for o2v's tests.

Methods: auth.test, chat.postMessage, chat.update, chat.postEphemeral, conversations.history, conversations.replies,
usergroups.users.list, and apps.connections.open (with the app-level token; it answers the URL of a Socket Mode
stand-in, ``tests/support/slack_socket.py``, when one is attached as ``socket``). Bodies may be
JSON or form-encoded (slack_sdk sends both, depending on the method). Every request is recorded; tests can ask
for the next N requests to answer 429 with a Retry-After header, to fail with a Slack error, or to fail with an
HTTP status. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from o2v.secret_hash import bearer_matches

TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-app-token"


@dataclass
class Recorded:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 200


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    edits: int = 0


@dataclass
class _Faults:
    rate_limited: int = 0
    retry_after_s: int = 0
    errors: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


class SlackAPIServer:
    """Context manager: ``with SlackAPIServer() as slack: ... slack.url`` (base URL ending in /api/)."""

    def __init__(self, token: str = TOKEN, app_token: str = APP_TOKEN) -> None:
        self.token = token
        self.app_token = app_token
        self.socket_url: str | None = None  # set by a Socket Mode stand-in
        self.usergroups: dict[str, list[str]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.requests: list[Recorded] = []
        self.messages: list[Message] = []
        self.channels: dict[str, str] = {}
        self._faults = _Faults()
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def __enter__(self) -> SlackAPIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    # -- faults -------------------------------------------------------------------------------------------------
    def rate_limit(self, count: int, retry_after_s: int = 0) -> None:
        """The next ``count`` requests answer HTTP 429 with ``Retry-After: retry_after_s``."""
        with self._lock:
            self._faults.rate_limited = count
            self._faults.retry_after_s = retry_after_s

    def fail_with(self, error: str, count: int = 1) -> None:
        """The next ``count`` requests answer 200 with ``{"ok": false, "error": error}``."""
        with self._lock:
            self._faults.errors += [error] * count

    def fail_status(self, status: int, count: int = 1) -> None:
        with self._lock:
            self._faults.statuses += [status] * count

    # -- views --------------------------------------------------------------------------------------------------
    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def top_level(self) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is None]

    def replies(self, ts: str) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == ts]

    # -- the API ------------------------------------------------------------------------------------------------
    def _answer(self, method: str, body: dict[str, Any], auth: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            if self._faults.rate_limited > 0:
                self._faults.rate_limited -= 1
                headers = {"Retry-After": str(self._faults.retry_after_s)}
                return 429, {"ok": False, "error": "ratelimited"}, headers
            if self._faults.statuses:
                return self._faults.statuses.pop(0), {"ok": False, "error": "internal_error"}, {}
            if self._faults.errors:
                return 200, {"ok": False, "error": self._faults.errors.pop(0)}, {}
            expected = self.app_token if method == "apps.connections.open" else self.token
            if not bearer_matches(auth, expected):  # constant time, as a real API compares tokens
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                return 200, {"ok": False, "error": "unknown_method"}, {}
            return 200, handler(body), {}

    def _m_auth_test(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://o2v-test.slack.com/", "team": "o2v", "user": "o2v-bot", "bot_id": "B1"}

    def _m_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's method name
        channel = self._channel(str(body.get("channel", "")))
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        thread_ts = body.get("thread_ts")
        if thread_ts and not any(m.ts == thread_ts and m.channel == channel for m in self.messages):
            return {"ok": False, "error": "thread_not_found"}
        message = Message(channel, self._next_ts(), str(body.get("text", "")), _blocks(body), thread_ts)
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": {"text": message.text}}

    def _m_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        for message in self.messages:
            if message.channel == channel and message.ts == ts:
                message.text = str(body.get("text", message.text))
                message.blocks = _blocks(body) or message.blocks
                message.edits += 1
                return {"ok": True, "channel": channel, "ts": ts, "text": message.text}
        return {"ok": False, "error": "message_not_found"}

    def _m_chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's method name
        if not body.get("user") or not body.get("channel"):
            return {"ok": False, "error": "user_not_in_channel"}
        self.ephemeral.append(dict(body))
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_usergroups_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        group = str(body.get("usergroup", ""))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _m_apps_connections_open(self, _body: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_url}

    def _m_conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(str(body.get("channel", "")))
        found = [m for m in reversed(self.messages) if m.channel == channel and m.thread_ts is None]
        return {"ok": True, "messages": [{"ts": m.ts, "text": m.text} for m in found]}

    def _m_conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        ts = str(body.get("ts", ""))
        return {"ok": True, "messages": [{"ts": m.ts, "text": m.text} for m in self.replies(ts)]}

    def _channel(self, name: str) -> str:
        if name.startswith("C") and name in self.channels.values():
            return name
        return self.channels.setdefault(name.lstrip("#"), f"C{len(self.channels) + 1:08d}")

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                path, _, query = self.path.partition("?")
                method = path.rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = dict(parse_qsl(raw))
                body = {**dict(parse_qsl(query)), **body}  # GET methods (usergroups.users.list) use the query
                status, payload, headers = server._answer(method, body, self.headers.get("Authorization", ""))
                server.requests.append(Recorded(method, body, dict(self.headers.items()), status))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
                return

        return Handler


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = body.get("blocks")
    if isinstance(blocks, str):  # form-encoded bodies carry blocks as a JSON string
        blocks = json.loads(blocks)
    return list(blocks or [])
