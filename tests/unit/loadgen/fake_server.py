"""A tiny wire-level fake of vLLM's and Ollama's streaming APIs, with knobs for the failure modes under test.

Real HTTP on 127.0.0.1 (aiohttp), so the load generator's real client code runs; timings are small and fixed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class FakeConfig:
    models: list[str] = field(default_factory=lambda: ["m1"])
    tokens: int = 5
    ttft_s: float = 0.0
    itl_s: float = 0.0
    html: bool = False
    status: int = 200
    disconnect_after: int | None = None
    stream_error_after: int | None = None
    usage: bool = True
    hang_s: float = 0.0
    fail_every: int = 0
    seen: list[dict] = field(default_factory=list)


def make_app(cfg: FakeConfig) -> web.Application:
    app = web.Application()
    counter = {"n": 0}

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<!DOCTYPE html><html><body>login</body></html>", content_type="text/html")

    async def v1_models(request: web.Request) -> web.Response:
        if cfg.html:
            return await html(request)
        return web.json_response({"object": "list", "data": [{"id": m, "object": "model"} for m in cfg.models]})

    async def api_tags(request: web.Request) -> web.Response:
        if cfg.html:
            return await html(request)
        return web.json_response({"models": [{"name": m, "model": m} for m in cfg.models]})

    def failing() -> bool:
        counter["n"] += 1
        return cfg.status != 200 or (cfg.fail_every > 0 and counter["n"] % cfg.fail_every == 0)

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        cfg.seen.append(body)
        if body.get("model") not in cfg.models:
            return web.json_response(
                {"error": {"message": f"The model `{body.get('model')}` does not exist."}}, status=404
            )
        if failing():
            status = cfg.status if cfg.status != 200 else 500
            return web.json_response({"error": {"message": "boom", "type": "InternalServerError"}}, status=status)
        if cfg.hang_s:
            await asyncio.sleep(cfg.hang_s)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n')
        await asyncio.sleep(cfg.ttft_s)
        for i in range(cfg.tokens):
            if i and cfg.itl_s:
                await asyncio.sleep(cfg.itl_s)
            if cfg.disconnect_after is not None and i == cfg.disconnect_after:
                assert request.transport is not None
                request.transport.close()
                return resp
            if cfg.stream_error_after is not None and i == cfg.stream_error_after:
                await resp.write(b'data: {"error":{"message":"engine died","type":"InternalServerError"}}\n\n')
                break
            chunk = {"choices": [{"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": None}]}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        else:
            await resp.write(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n')
            if cfg.usage:
                usage = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": cfg.tokens}}
                await resp.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def ollama_chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        cfg.seen.append(body)
        if body.get("model") not in cfg.models:
            return web.json_response({"error": f"model '{body.get('model')}' not found"}, status=404)
        if failing():
            return web.json_response(
                {"error": "server busy, please try again.  maximum pending requests exceeded"}, status=503
            )
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        await asyncio.sleep(cfg.ttft_s)
        for i in range(cfg.tokens):
            if i and cfg.itl_s:
                await asyncio.sleep(cfg.itl_s)
            line = {"model": body["model"], "message": {"role": "assistant", "content": f"t{i} "}, "done": False}
            await resp.write(json.dumps(line).encode() + b"\n")
        final = {
            "model": body["model"],
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "length",
            "eval_count": cfg.tokens,
        }
        await resp.write(json.dumps(final).encode() + b"\n")
        await resp.write_eof()
        return resp

    app.router.add_get("/v1/models", v1_models)
    app.router.add_get("/api/tags", api_tags)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/api/chat", ollama_chat)
    app.router.add_get("/", html)
    return app


async def start(cfg: FakeConfig, port: int) -> web.AppRunner:
    runner = web.AppRunner(make_app(cfg), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner
