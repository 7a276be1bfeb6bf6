"""vLLM's informational routes: health, version, metrics, models, tokenize/detokenize, load, embeddings."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from o2v.simulate.common import detokenize, json_response, tokenize
from o2v.simulate.openai_fmt import BadRequest, _messages_text
from o2v.simulate.vllm_sim import VLLMSim

VOCAB_SIZE = 128_256  # Llama 3 tokenizer


def add_info_routes(app: web.Application, sim: VLLMSim) -> None:
    created = int(time.time())

    async def health(request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def version(request: web.Request) -> web.Response:
        return json_response({"version": sim.cfg.version})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            text=sim.metrics.render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    def card(name: str) -> dict[str, Any]:
        return {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "vllm",
            "root": sim.cfg.model,
            "parent": None,
            "max_model_len": sim.cfg.max_model_len,
            "permission": [
                {
                    "id": f"modelperm-{abs(hash(name)) % 10**12:012d}",
                    "object": "model_permission",
                    "created": created,
                    "allow_create_engine": False,
                    "allow_sampling": True,
                    "allow_logprobs": True,
                    "allow_search_indices": False,
                    "allow_view": True,
                    "allow_fine_tuning": False,
                    "organization": "*",
                    "group": None,
                    "is_blocking": False,
                }
            ],
        }

    async def models(request: web.Request) -> web.Response:
        return json_response({"object": "list", "data": [card(n) for n in sim.cfg.served]})

    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest("JSON decode error") from exc
        if not isinstance(body, dict):
            raise BadRequest("Input should be a valid dictionary or object to extract fields from")
        return body

    async def tokenize_route(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            if "messages" in body:
                text, _ = _messages_text(body["messages"])
            elif isinstance(body.get("prompt"), str):
                text = body["prompt"]
            else:
                raise BadRequest("prompt: Field required", param="prompt")
        except BadRequest as exc:
            return json_response(sim.style.error_body(exc), exc.status)
        ids = tokenize(text, VOCAB_SIZE)
        if body.get("add_special_tokens", True):
            ids = [128000, *ids]
        return json_response(
            {"count": len(ids), "max_model_len": sim.cfg.max_model_len, "tokens": ids, "token_strs": None}
        )

    async def detokenize_route(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            tokens = body.get("tokens")
            if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
                raise BadRequest("tokens: Input should be a valid list of integers", param="tokens")
        except BadRequest as exc:
            return json_response(sim.style.error_body(exc), exc.status)
        return json_response({"prompt": detokenize([t for t in tokens if t != 128000])})

    async def load(request: web.Request) -> web.Response:
        return json_response({"server_load": sim.state.stats.active})

    async def embeddings(request: web.Request) -> web.Response:
        exc = BadRequest(
            f"The model `{sim.cfg.served[0]}` does not support the Embeddings API. "
            "Use --task embed to serve it as a pooling model."
        )
        return json_response(sim.style.error_body(exc), 400)

    async def ping(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app.router.add_get("/health", health)
    app.router.add_get("/ping", ping)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/load", load)
    app.router.add_post("/tokenize", tokenize_route)
    app.router.add_post("/detokenize", detokenize_route)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/embeddings", embeddings)
