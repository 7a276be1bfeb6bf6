"""Steady streaming traffic from many clients, counted on the client side: what a user would see.

Each worker is one client (``X-O2V-Client``) that sends streamed requests back to back, alternating Ollama's
native API and the OpenAI API, until told to stop. A request counts as OK only when its stream ended with
the API's own end marker (``done: true`` / ``data: [DONE]``) and carried no error.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from o2v.cutover.streams import chat_once

from .conftest import MODEL


@dataclass
class Tally:
    sent: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    failed_at: list[float] = field(default_factory=list)  # monotonic time of each connection-level failure
    backends: Counter[str] = field(default_factory=Counter)
    by_client: dict[str, list[str]] = field(default_factory=dict)


async def one_request(session: aiohttp.ClientSession, url: str, client: str, native: bool, tally: Tally) -> None:
    tally.sent += 1
    content = f"hi {client}" if native else "hi"
    exchange = await chat_once(session, url, model=MODEL, native=native, content=content,
                               max_tokens=None if native else 8, headers={"X-O2V-Client": client})  # fmt: skip
    if exchange.error:
        tally.failures.append(f"{client} {exchange.path}: {exchange.error}")
        if exchange.connection_failed:
            tally.failed_at.append(time.monotonic())
        return
    tally.ok += 1
    tally.backends[exchange.backend] += 1
    tally.by_client.setdefault(client, []).append(exchange.backend)


async def drive(url: str, clients: list[str], stop: asyncio.Event, tally: Tally) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker(client: str, index: int) -> None:
            native = index % 2 == 0
            while not stop.is_set():
                await one_request(session, url, client, native, tally)
                native = not native

        await asyncio.gather(*(worker(c, i) for i, c in enumerate(clients)))
