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
import orjson

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
    path, body = (
        ("/api/chat", {"model": MODEL, "messages": [{"role": "user", "content": f"hi {client}"}]})
        if native
        else ("/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                       "stream": True, "max_tokens": 8})
    )  # fmt: skip
    try:
        async with session.post(url + path, data=orjson.dumps(body), headers={"X-O2V-Client": client}) as r:
            data = await r.read()
            backend = r.headers.get("X-O2V-Backend", "?")
            if r.status != 200:
                tally.failures.append(f"{client} {path}: HTTP {r.status} {data[:200]!r}")
                return
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.failures.append(f"{client} {path}: {type(exc).__name__} {exc}")
        tally.failed_at.append(time.monotonic())
        await asyncio.sleep(0.05)  # as a real client would, rather than spinning on a refused connection
        return
    lines = [line for line in data.split(b"\n") if line.strip()]
    complete = lines and (
        orjson.loads(lines[-1]).get("done") is True if native else lines[-1] == b"data: [DONE]"
    )
    if not complete or b'"error"' in data:
        tally.failures.append(f"{client} {path}: broken stream ending {data[-200:]!r}")
        return
    tally.ok += 1
    tally.backends[backend] += 1
    tally.by_client.setdefault(client, []).append(backend)


async def drive(url: str, clients: list[str], stop: asyncio.Event, tally: Tally) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker(client: str, index: int) -> None:
            native = index % 2 == 0
            while not stop.is_set():
                await one_request(session, url, client, native, tally)
                native = not native

        await asyncio.gather(*(worker(c, i) for i, c in enumerate(clients)))
