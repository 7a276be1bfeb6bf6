"""``o2v slack listen``: receive approval clicks over Slack's Socket Mode (outbound only: works behind a firewall).

Each envelope is acknowledged before anything else happens, so Slack gets its answer well inside 3 s however long
Prefect takes; the click is then handled in the background.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from o2v.approvals.listener import ApprovalListener, Approvers, AuditSink, PausedRuns, PrefectRuns
from o2v.config import Settings
from o2v.errors import ConfigError

log = logging.getLogger(__name__)


async def listen(
    settings: Settings,
    *,
    audit: AuditSink | None = None,
    runs: PausedRuns | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run until ``stop`` is set (forever without one)."""
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse
    from slack_sdk.web.async_client import AsyncWebClient

    slack = settings.slack
    if slack.bot_token is None or slack.app_token is None:
        raise ConfigError(["slack.bot_token and slack.app_token are both needed to listen for approvals "
                           "(set O2V__SLACK__BOT_TOKEN and O2V__SLACK__APP_TOKEN, an xapp- app-level token)"])
    if not slack.approvers:
        log.warning("slack.approvers is empty: every approval click will be refused")
    web = AsyncWebClient(token=slack.bot_token.get_secret_value(), base_url=slack.base_url)
    listener = ApprovalListener(web, Approvers(slack.approvers, web), runs or PrefectRuns(), audit)
    client = SocketModeClient(app_token=slack.app_token.get_secret_value(), web_client=web)
    handling: set[asyncio.Task[Any]] = set()

    async def on_request(socket: Any, request: SocketModeRequest) -> None:
        await socket.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        if request.type != "interactive":
            return
        task = asyncio.create_task(_handle(listener, request.payload))
        handling.add(task)
        task.add_done_callback(handling.discard)

    client.socket_mode_request_listeners.append(on_request)
    await client.connect()
    log.info("listening for approvals over Slack Socket Mode")
    if ready is not None:
        ready.set()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        if handling:
            await asyncio.wait(handling, timeout=10)
        await client.close()


async def _handle(listener: ApprovalListener, payload: dict[str, Any]) -> None:
    try:
        outcome = await listener.handle(payload)
        log.info("approval click: %s", outcome)
    except Exception:  # a bad click must not stop the listener for everyone else
        log.exception("approval click could not be handled")
