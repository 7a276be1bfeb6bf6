"""A local stand-in for Slack's Socket Mode: the websocket an app connects out to, and clicks sent down it.

``apps.connections.open`` on the Web API stand-in answers this server's ``ws://`` URL. ``click(payload)`` sends an
``interactive`` envelope as Slack does and waits for the app's acknowledgement, recording how long it took (Slack
wants one within 3 s). Runs its own event loop in a thread; listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from support.slack_api import SlackAPIServer


class SocketModeServer:
    def __init__(self, api: SlackAPIServer) -> None:
        self.api = api
        self.acks: dict[str, float] = {}  # envelope id -> seconds from send to acknowledgement
        self.connections = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._acked: dict[str, asyncio.Event] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def __enter__(self) -> SocketModeServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.api.socket_url = f"ws://127.0.0.1:{self.port}/link/"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}))
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            envelope_id = json.loads(message.data).get("envelope_id")
            if envelope_id in self._acked:
                self._acked[envelope_id].set()
        self._sockets.remove(ws)
        return ws

    def wait_connected(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self._sockets:
            if time.monotonic() > deadline:
                raise TimeoutError("no Socket Mode client connected")
            time.sleep(0.02)

    def click(self, payload: dict[str, Any], timeout_s: float = 5.0) -> float:
        """Send one interaction; return the seconds until it was acknowledged (raise if it never was)."""
        return asyncio.run_coroutine_threadsafe(self._click(payload, timeout_s), self._loop).result(timeout_s + 1)

    async def _click(self, payload: dict[str, Any], timeout_s: float) -> float:
        envelope_id = str(uuid.uuid4())
        acked = self._acked[envelope_id] = asyncio.Event()
        started = time.monotonic()
        envelope = {"envelope_id": envelope_id, "type": "interactive", "accepts_response_payload": False,
                    "payload": payload}
        await self._sockets[-1].send_str(json.dumps(envelope))
        await asyncio.wait_for(acked.wait(), timeout_s)
        self.acks[envelope_id] = time.monotonic() - started
        return self.acks[envelope_id]


def button_click(message_ts: str, channel: str, user: str, action_id: str, value: str) -> dict[str, Any]:
    """The block_actions payload Slack sends when ``user`` clicks a button of the message ``message_ts``."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "channel": {"id": channel},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "message": {"ts": message_ts, "blocks": []},
        "actions": [{"action_id": action_id, "value": value, "type": "button", "action_ts": str(time.time())}],
    }
