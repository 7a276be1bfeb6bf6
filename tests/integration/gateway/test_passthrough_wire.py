"""What the gateway puts on the wire, against stand-in backends (aiohttp servers on loopback) that record it:
the client's headers as they reach the backend, and a response head that never waits for the backend's first
body bytes (the head goes out with those bytes only when they are already there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from aiohttp import web
from support.engines import free_port

from o2v.gateway.run import running_gateway
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

from .conftest import MODEL, make_config

STEP_S = 10.0  # generous bound on each wait: the tests wait for events, never for time


async def _site(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_headers_reach_ollama_as_sent_with_one_forwarded_for(vllm_sim: SimulatorProcess, store: Store) -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(list(request.raw_headers))
        await request.read()
        return web.json_response({"model": MODEL, "done": True, "eval_count": 7})

    app = web.Application()
    app.router.add_post("/api/chat", chat)
    async for ollama_url in _site(app):
        config = make_config(ollama_url, vllm_sim.url)
        async with running_gateway(config, store), httpx.AsyncClient(timeout=STEP_S) as client:
            r = await client.post(
                f"http://127.0.0.1:{config.listen_port}/api/chat",
                content=orjson.dumps({"model": MODEL, "messages": [], "stream": False}),
                headers={"x-forwarded-for": "10.9.8.7", "X-Team-Trace": "abc é".encode(),
                         "Authorization": "Bearer mine", "Content-Type": "application/json"},
            )  # fmt: skip
            assert r.status_code == 200, r.text
            assert r.headers["X-O2V-Backend"] == "ollama"
            assert r.json()["eval_count"] == 7
    (headers,) = seen
    by_name: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)
    assert by_name[b"x-forwarded-for"] == [b"10.9.8.7, 127.0.0.1"]  # the client's, extended, once
    assert by_name[b"x-team-trace"] == ["abc é".encode()]  # bytes as the client sent them
    assert by_name[b"authorization"] == [b"Bearer mine"]  # Ollama gets the client's own token
    assert by_name[b"content-length"] == [str(len(orjson.dumps({"model": MODEL, "messages": [],
                                                                  "stream": False}))).encode()]  # fmt: skip
    assert len(by_name[b"host"]) == 1


def _stand_in_vllm(client_saw_head: asyncio.Event) -> web.Application:
    """A vLLM that sends its response head, then sends nothing until the client has seen the gateway's head."""

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.wait_for(client_saw_head.wait(), STEP_S)
        delta = {"id": "c", "object": "chat.completion.chunk", "model": MODEL,
                 "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}  # fmt: skip
        usage = {"id": "c", "object": "chat.completion.chunk", "model": MODEL, "choices": [],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}  # fmt: skip
        await response.write(b"data: " + orjson.dumps(delta) + b"\n\n")
        await response.write(b"data: " + orjson.dumps(usage) + b"\n\ndata: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    return app


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": MODEL, "messages": [], "stream": True}),
        ("/api/chat", {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}),
    ],
    ids=["openai-pass-through", "native-translated"],
)
async def test_the_head_reaches_the_client_before_the_backend_sends_a_token(
    ollama_sim: SimulatorProcess, store: Store, path: str, body: dict[str, object]
) -> None:
    """A head held for the first body bytes would deadlock here: the stand-in sends none until the client has
    the head (bounded by STEP_S, so a regression fails rather than hangs)."""
    client_saw_head = asyncio.Event()
    async for vllm_url in _site(_stand_in_vllm(client_saw_head)):
        config = make_config(ollama_sim.url, vllm_url, vllm_api_key=None)
        store.set_percent(100, actor="test")
        async with running_gateway(config, store), httpx.AsyncClient(timeout=STEP_S) as client:
            url = f"http://127.0.0.1:{config.listen_port}{path}"
            async with client.stream("POST", url, json=body) as r:
                assert r.status_code == 200
                assert r.headers["X-O2V-Backend"] == "vllm"
                client_saw_head.set()
                text = (await r.aread()).decode()
    assert "hi" in text
    if path == "/api/chat":
        lines = [orjson.loads(line) for line in text.splitlines()]
        assert lines[-1]["done"] is True
        assert lines[-1]["eval_count"] == 1
    else:
        assert text.rstrip().endswith("data: [DONE]")
