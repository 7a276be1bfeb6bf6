"""Ollama's OpenAI-compatible ``/v1`` routes: the native scheduler underneath, OpenAI shapes on the wire.

Ollama's ``/v1`` differs from vLLM's where clients notice: ``stream_options`` is never validated (no 400
without ``stream``; only ``include_usage`` is read), errors other than 400/404 are typed ``api_error``,
and the chat stream framing depends on the version (``ollama_sse``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from o2v.simulate.common import json_response
from o2v.simulate.ollama_api import embedding_vector
from o2v.simulate.ollama_gen import GenerationRequest, generate
from o2v.simulate.ollama_sse import OllamaStream
from o2v.simulate.ollama_state import SIM
from o2v.simulate.openai_fmt import BadRequest, parse_request


async def _openai(request: web.Request, chat: bool) -> web.StreamResponse:
    sim = request.app[SIM]
    try:
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise BadRequest(f"invalid character looking for beginning of value: {exc.msg}") from exc
        stream_options = body.pop("stream_options", None) if isinstance(body, dict) else None
        req = parse_request(body, chat)
        model = sim.find(req.model)
        if model is None:
            raise BadRequest(f"model '{req.model}' not found", status=404)
    except BadRequest as exc:
        return json_response(sim.style.error_body(exc), status=exc.status)
    # Ollama's StreamOptions has one field; a usage chunk comes only when it is set on a stream.
    req.include_usage = req.stream and isinstance(stream_options, dict) and stream_options.get("include_usage") is True
    req.continuous_usage = False
    fmt = OllamaStream(sim.style, req, req.model, role_first_only=sim.behaviour.openai_role_first_only)
    gen = GenerationRequest(
        api="openai_chat" if chat else "openai_completion",
        model=model,
        stream=req.stream,
        prompt_text=req.prompt_text,
        prompt_tokens=req.prompt_tokens,
        num_predict=req.max_tokens,
        seed=req.seed,
        keep_alive_s=None,
        openai=fmt,
    )
    return await generate(request, sim, gen)


async def openai_chat(request: web.Request) -> web.StreamResponse:
    return await _openai(request, chat=True)


async def openai_completions(request: web.Request) -> web.StreamResponse:
    return await _openai(request, chat=False)


def _model_card(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "library"}


async def openai_models(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    cards = [_model_card(m.full_name, int(m.modified_at.timestamp())) for m in sim.catalog.models]
    return json_response({"object": "list", "data": cards})


async def openai_model(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    name = request.match_info["model"]
    model = sim.find(name)
    if model is None:
        return json_response(sim.style.error_body(BadRequest(f"model '{name}' not found", status=404)), status=404)
    return json_response(_model_card(model.full_name, int(model.modified_at.timestamp())))


async def openai_embeddings(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return json_response(sim.style.error_body(BadRequest("invalid request body")), status=400)
    if not isinstance(body, dict) or not body.get("input"):
        return json_response(sim.style.error_body(BadRequest("invalid input type")), status=400)
    model = sim.find(str(body.get("model", "")))
    if model is None:
        return json_response(
            sim.style.error_body(BadRequest(f"model '{body.get('model')}' not found", 404)), status=404
        )
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [
        {"object": "embedding", "embedding": embedding_vector(str(x), model), "index": i} for i, x in enumerate(inputs)
    ]
    tokens = sum(len(str(x).split()) for x in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return json_response({"object": "list", "data": data, "model": body["model"], "usage": usage})


def add_openai_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", openai_chat)
    app.router.add_post("/v1/completions", openai_completions)
    app.router.add_post("/v1/embeddings", openai_embeddings)
    app.router.add_get("/v1/models", openai_models)
    app.router.add_get("/v1/models/{model:.+}", openai_model)
