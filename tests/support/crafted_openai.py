"""A tiny OpenAI-compatible server that answers every chat with a crafted text, for the smoke test's checks.

It stands in for a vLLM with a broken chat template (``--text 'Hello!<|eot_id|>...'``) or a wrong model
(``--text 'Hallo, das ist ...'``). It serves ``/health``, ``/v1/models`` and ``/v1/chat/completions``, streamed
(one chunk per word, a few milliseconds apart, usage last) or not. Run it as a script so the deploy phase's
process backend can start it like ``vllm serve``: unknown flags (``--model``, ``--max-num-seqs``, ...) are ignored.

    python tests/support/crafted_openai.py --text "..." --port 8123 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web


def make_app(text: str, model: str = "crafted") -> web.Application:
    words = [w + " " for w in text.split(" ")]
    words[-1] = words[-1].rstrip(" ")

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="")

    async def models(_request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": model, "object": "model"}]})

    async def chat(request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = await request.json()
        name = body.get("model") or model
        usage = {"prompt_tokens": 12, "completion_tokens": len(words), "total_tokens": 12 + len(words)}
        base = {"id": "chatcmpl-crafted", "created": int(time.time()), "model": name}
        if not body.get("stream"):
            return web.json_response(base | {
                "object": "chat.completion", "usage": usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            })
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(data: dict[str, Any]) -> None:
            await response.write(f"data: {json.dumps(base | {'object': 'chat.completion.chunk'} | data)}\n\n".encode())

        for i, word in enumerate(words):
            delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
            await send({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            await asyncio.sleep(0.005)
        await send({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            await send({"choices": [], "usage": usage})
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    return app


@contextmanager
def crafted_server(text: str) -> Iterator[str]:
    """Serve ``text`` on a free loopback port from a background thread; yield the base URL."""
    from support.engines import free_port

    with serve_app(make_app(text), free_port()) as url:
        yield url


@contextmanager
def serve_app(app: web.Application, port: int) -> Iterator[str]:
    """Any aiohttp app on 127.0.0.1:``port`` from a background thread, for tests; yield the base URL."""
    loop, started = asyncio.new_event_loop(), threading.Event()
    runner = web.AppRunner(app)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(timeout=30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--text", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name", default="crafted")
    args, _ignored = parser.parse_known_args()
    web.run_app(make_app(args.text, args.served_model_name), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
