"""One streamed chat request as a client sees it: what the rehearsal's clients and the tests' clients send.

Ollama's native API (``/api/chat``, streamed by default) or the OpenAI API (``/v1/chat/completions`` with
``stream: true``). It counts as OK only when the stream ended with the API's own end marker (``done: true`` /
``data: [DONE]``) and carried no error object: counted by the client, not by the server or the gateway.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple


class Exchange(NamedTuple):
    path: str
    backend: str = "?"
    error: str = ""  # empty: a complete stream
    connection_failed: bool = False


def chat_body(model: str, native: bool, content: str, max_tokens: int | None) -> tuple[str, dict[str, Any]]:
    messages = [{"role": "user", "content": content}]
    if native:
        body: dict[str, Any] = {"model": model, "messages": messages}
        if max_tokens is not None:
            body["options"] = {"num_predict": max_tokens}
        return "/api/chat", body
    body = {"model": model, "messages": messages, "stream": True}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return "/v1/chat/completions", body


def stream_complete(data: bytes, native: bool) -> bool:
    import orjson

    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines or b'"error"' in data:
        return False
    return orjson.loads(lines[-1]).get("done") is True if native else lines[-1] == b"data: [DONE]"


async def chat_once(
    session: Any, url: str, *, model: str, native: bool, content: str = "hi", max_tokens: int | None = None,
    headers: dict[str, str] | None = None,
) -> Exchange:  # fmt: skip
    """Send one streamed chat request through an aiohttp session; a connection failure backs off 50 ms."""
    import aiohttp
    import orjson

    path, body = chat_body(model, native, content, max_tokens)
    try:
        async with session.post(url + path, data=orjson.dumps(body), headers=headers or {}) as r:
            data = await r.read()
            backend = r.headers.get("X-O2V-Backend", "?")
            if r.status != 200:
                return Exchange(path, backend, f"HTTP {r.status} {data[:200]!r}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        await asyncio.sleep(0.05)  # as a real client would, rather than spinning on a refused connection
        return Exchange(path, error=f"{type(exc).__name__} {exc}", connection_failed=True)
    if not stream_complete(data, native):
        return Exchange(path, backend, f"broken stream ending {data[-200:]!r}")
    return Exchange(path, backend)
