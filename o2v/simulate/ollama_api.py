"""Ollama's native routes: request parsing with Ollama's error bodies, and the catalog views.

Error texts follow Ollama's handlers (``missing request body``, ``model 'X' not found``, Go's JSON decoder
messages) because clients and the log parser match on them.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from aiohttp import web

from o2v.simulate.catalog import CatalogModel
from o2v.simulate.common import count_tokens, dumps, json_response, stable_seed
from o2v.simulate.ollama_gen import GenerationRequest, generate, load_or_unload
from o2v.simulate.ollama_sched import parse_keep_alive
from o2v.simulate.ollama_state import SIM


class _Refuse(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _err(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise _Refuse(400, "missing request body")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        bad = raw.decode(errors="replace")[exc.pos : exc.pos + 1] if exc.pos < len(raw) else ""
        if bad:
            raise _Refuse(400, f"invalid character '{bad}' looking for beginning of value") from exc
        raise _Refuse(400, "unexpected EOF") from exc
    if not isinstance(body, dict):
        kind = {list: "array", str: "string", int: "number", float: "number", bool: "bool"}.get(type(body), "value")
        raise _Refuse(400, f"json: cannot unmarshal {kind} into Go value of type api.Request")
    return body


def _model(request: web.Request, body: dict[str, Any], *, required_msg: str | None = None) -> CatalogModel:
    name = body.get("model") or body.get("name") or ""
    if not isinstance(name, str):
        raise _Refuse(400, "json: cannot unmarshal number into Go struct field .model of type string")
    if not name and required_msg:
        raise _Refuse(400, required_msg)
    model = request.app[SIM].find(name)
    if model is None:
        raise _Refuse(404, f"model '{name}' not found")
    return model


def _options(body: dict[str, Any]) -> dict[str, Any]:
    opts = body.get("options") or {}
    if not isinstance(opts, dict):
        raise _Refuse(400, "json: cannot unmarshal into Go struct field .options of type map[string]interface {}")
    return opts


def _keep_alive(body: dict[str, Any]) -> float | None:
    try:
        return parse_keep_alive(body.get("keep_alive"))
    except ValueError as exc:
        raise _Refuse(400, str(exc)) from exc


def _int_option(opts: dict[str, Any], key: str) -> int | None:
    value = opts.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _Refuse(400, f'option "{key}" must be of type integer')
    return int(value)


async def api_generate(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    try:
        body = await _body(request)
        model = _model(request, body)
        if "completion" not in model.capabilities:
            raise _Refuse(400, f'"{model.name}" does not support generate')
        opts = _options(body)
        prompt = body.get("prompt") or ""
        system = body.get("system") or ""
        if not isinstance(prompt, str) or not isinstance(system, str):
            raise _Refuse(400, "json: cannot unmarshal into Go struct field GenerateRequest.prompt of type string")
        gen = GenerationRequest(
            api="generate",
            model=model,
            stream=body.get("stream", True) is not False,
            prompt_text=system + prompt,
            prompt_tokens=count_tokens(system) + count_tokens(prompt) + 5,
            num_predict=_int_option(opts, "num_predict"),
            num_ctx=_int_option(opts, "num_ctx"),
            seed=opts.get("seed"),
            keep_alive_s=_keep_alive(body),
            model_name=str(body.get("model") or model.name),
        )
    except _Refuse as exc:
        sim.state.stats.finish(exc.status)
        return _err(exc.status, exc.message)
    if not prompt and not body.get("images"):
        return await load_or_unload(request, sim, gen)
    return await generate(request, sim, gen)


async def api_chat(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    try:
        body = await _body(request)
        model = _model(request, body)
        if "completion" not in model.capabilities:
            raise _Refuse(400, f'"{model.name}" does not support chat')
        opts = _options(body)
        messages = body.get("messages") or []
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise _Refuse(400, "json: cannot unmarshal into Go struct field ChatRequest.messages of type []api.Message")
        text = "\n".join(f"{m.get('role', '')}: {m.get('content') or ''}" for m in messages)
        tokens = 1 + sum(4 + count_tokens(str(m.get("content") or "")) for m in messages) + 3
        gen = GenerationRequest(
            api="chat",
            model=model,
            stream=body.get("stream", True) is not False,
            prompt_text=text,
            prompt_tokens=tokens,
            num_predict=_int_option(opts, "num_predict"),
            num_ctx=_int_option(opts, "num_ctx"),
            seed=opts.get("seed"),
            keep_alive_s=_keep_alive(body),
            model_name=str(body.get("model") or model.name),
        )
    except _Refuse as exc:
        sim.state.stats.finish(exc.status)
        return _err(exc.status, exc.message)
    if not messages:
        return await load_or_unload(request, sim, gen)
    return await generate(request, sim, gen)


def _tag_entry(model: CatalogModel) -> dict[str, Any]:
    return {
        "name": model.full_name,
        "model": model.full_name,
        "modified_at": model.modified_at.isoformat(),
        "size": model.size_bytes,
        "digest": model.hex_digest,
        "details": model.details(),
    }


async def api_tags(request: web.Request) -> web.Response:
    return json_response({"models": [_tag_entry(m) for m in request.app[SIM].catalog.models]})


async def api_show(request: web.Request) -> web.Response:
    try:
        body = await _body(request)
        model = _model(request, body, required_msg="model is required")
    except _Refuse as exc:
        return _err(exc.status, exc.message)
    modelfile = (
        f'# Modelfile generated by "ollama show"\nFROM /root/.ollama/models/blobs/sha256-{model.hex_digest}\n'
        f'TEMPLATE """{model.template}"""\nPARAMETER ' + model.parameters.replace("\n", "\nPARAMETER ")
    )
    return json_response(
        {
            "license": model.license,
            "modelfile": modelfile,
            "parameters": model.parameters,
            "template": model.template,
            "system": model.system,
            "details": model.details(),
            "model_info": model.model_info(),
            "capabilities": model.capabilities,
            "modified_at": model.modified_at.isoformat(),
        }
    )


async def api_ps(request: web.Request) -> web.Response:
    from datetime import UTC, datetime

    sim = request.app[SIM]
    out = []
    for runner in sim.sched.loaded():
        expires = runner.expires_at if runner.refs == 0 else runner.expires_at + runner.keep_alive_s
        if math.isinf(expires) or runner.keep_alive_s < 0:
            stamp = "2318-08-01T00:00:00Z"
        else:
            stamp = datetime.fromtimestamp(max(expires, 0), UTC).astimezone().isoformat()
        out.append(
            {
                **_tag_entry(runner.model),
                "size": runner.size_vram(),
                "expires_at": stamp,
                "size_vram": runner.size_vram(),
                "context_length": runner.num_ctx,
            }
        )
    return json_response({"models": out})


def embedding_vector(text: str, model: CatalogModel) -> list[float]:
    rng = random.Random(stable_seed("embed", model.full_name, text))
    vec = [rng.gauss(0.0, 1.0) for _ in range(model.embedding_length)]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [round(v / norm, 6) for v in vec]


async def api_embed(request: web.Request) -> web.Response:
    try:
        body = await _body(request)
        model = _model(request, body)
    except _Refuse as exc:
        return _err(exc.status, exc.message)
    raw = body.get("input", [])
    inputs = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(x, str) for x in inputs):
        return _err(400, "invalid input type")
    return json_response(
        {
            "model": body.get("model"),
            "embeddings": [embedding_vector(x, model) for x in inputs],
            "total_duration": 1_000_000,
            "load_duration": 0,
            "prompt_eval_count": sum(count_tokens(x) for x in inputs),
        }
    )


async def api_pull(request: web.Request) -> web.StreamResponse:
    """A pull completes at once: the model joins the catalog with default (llama 8B-like) header values."""
    sim = request.app[SIM]
    try:
        body = await _body(request)
    except _Refuse as exc:
        return _err(exc.status, exc.message)
    name = str(body.get("model") or body.get("name") or "")
    if not name:
        return _err(400, "model is required")
    model = sim.find(name)
    if model is None:
        model = CatalogModel(name=name)
        sim.catalog.models.append(model)
    lines = [
        {"status": "pulling manifest"},
        {
            "status": f"pulling {model.hex_digest[:12]}",
            "digest": f"sha256:{model.hex_digest}",
            "total": model.size_bytes,
            "completed": model.size_bytes,
        },
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ]
    if body.get("stream", True) is False:
        return json_response({"status": "success"})
    resp = web.StreamResponse()
    resp.content_type = "application/x-ndjson"
    await resp.prepare(request)
    for line in lines:
        await resp.write(dumps(line).encode() + b"\n")
    await resp.write_eof()
    return resp


async def api_delete(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    try:
        body = await _body(request)
        model = _model(request, body, required_msg="model is required")
    except _Refuse as exc:
        return _err(exc.status, exc.message)
    sim.catalog.models.remove(model)
    return web.Response(status=200)


async def api_copy(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    try:
        body = await _body(request)
        source = _model(request, {"model": body.get("source")}, required_msg="source is required")
    except _Refuse as exc:
        return _err(exc.status, exc.message)
    dest = str(body.get("destination") or "")
    if not dest:
        return _err(400, "destination is required")
    sim.catalog.models.append(source.model_copy(update={"name": dest}))
    return web.Response(status=200)


async def api_create(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    try:
        body = await _body(request)
        source = _model(request, {"model": body.get("from")}, required_msg="neither 'from' or 'files' was specified")
    except _Refuse as exc:
        return _err(exc.status, exc.message)
    name = str(body.get("model") or body.get("name") or "")
    if not name:
        return _err(400, "model is required")
    update: dict[str, Any] = {"name": name, "digest": None}
    if isinstance(body.get("system"), str):
        update["system"] = body["system"]
    sim.catalog.models.append(source.model_copy(update=update))
    return json_response({"status": "success"})


async def root(request: web.Request) -> web.Response:
    return web.Response(text="Ollama is running", content_type="text/plain")


async def api_version(request: web.Request) -> web.Response:
    return json_response({"version": request.app[SIM].cfg.version})


def add_native_routes(app: web.Application) -> None:
    app.router.add_get("/", root)  # aiohttp answers HEAD for GET routes
    app.router.add_get("/api/version", api_version)
    app.router.add_get("/api/tags", api_tags)
    app.router.add_post("/api/show", api_show)
    app.router.add_get("/api/ps", api_ps)
    app.router.add_post("/api/generate", api_generate)
    app.router.add_post("/api/chat", api_chat)
    app.router.add_post("/api/embed", api_embed)
    app.router.add_post("/api/pull", api_pull)
    app.router.add_delete("/api/delete", api_delete)
    app.router.add_post("/api/copy", api_copy)
    app.router.add_post("/api/create", api_create)
