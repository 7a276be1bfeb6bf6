"""The Ollama simulator: native ``/api/*`` and OpenAI-compatible ``/v1/*`` routes over one scheduler.

Each request follows Ollama's path: pending queue (503 when full) -> model load if needed (blocks the
queue) -> a slot of the model (unbounded wait) -> prefill -> one token every ``itl`` -> release.  A client
that leaves before its slot is granted is logged as Ollama logs it and answered 499.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from o2v.simulate.catalog import Catalog, CatalogModel
from o2v.simulate.common import EXTRA_STATS, STATE, SimState, add_admin_routes, go_duration, json_response
from o2v.simulate.ollama_api import add_native_routes
from o2v.simulate.ollama_gen import SIM, GenerationRequest, generate
from o2v.simulate.ollama_logs import OllamaLogs
from o2v.simulate.ollama_sched import Scheduler
from o2v.simulate.openai_fmt import BadRequest, OpenAIStream, OpenAIStyle, parse_request

OLLAMA_VERSION = "0.11.4"


@dataclass
class OllamaConfig:
    host: str = "127.0.0.1"
    port: int = 11434
    num_parallel: int = 1
    max_queue: int = 512
    max_loaded_models: int = 3
    keep_alive_s: float = 300.0
    num_ctx: int = 4096
    version: str = OLLAMA_VERSION
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {
            "CUDA_VISIBLE_DEVICES": "",
            "GPU_DEVICE_ORDINAL": "",
            "HIP_VISIBLE_DEVICES": "",
            "HSA_OVERRIDE_GFX_VERSION": "",
            "HTTPS_PROXY": "",
            "HTTP_PROXY": "",
            "NO_PROXY": "",
            "OLLAMA_CONTEXT_LENGTH": str(self.num_ctx),
            "OLLAMA_DEBUG": "INFO",
            "OLLAMA_FLASH_ATTENTION": "false",
            "OLLAMA_GPU_OVERHEAD": "0",
            "OLLAMA_HOST": f"http://{self.host}:{self.port}",
            "OLLAMA_KEEP_ALIVE": go_duration(self.keep_alive_s)
            if self.keep_alive_s >= 0
            else "2562047h47m16.854775807s",
            "OLLAMA_KV_CACHE_TYPE": "",
            "OLLAMA_LLM_LIBRARY": "",
            "OLLAMA_LOAD_TIMEOUT": "5m0s",
            "OLLAMA_MAX_LOADED_MODELS": str(self.max_loaded_models),
            "OLLAMA_MAX_QUEUE": str(self.max_queue),
            "OLLAMA_MODELS": "/root/.ollama/models",
            "OLLAMA_MULTIUSER_CACHE": "false",
            "OLLAMA_NEW_ENGINE": "false",
            "OLLAMA_NOHISTORY": "false",
            "OLLAMA_NOPRUNE": "false",
            "OLLAMA_NUM_PARALLEL": str(self.num_parallel),
            "OLLAMA_ORIGINS": "[http://localhost https://localhost http://127.0.0.1 https://127.0.0.1 http://0.0.0.0]",
            "OLLAMA_SCHED_SPREAD": "false",
            "ROCR_VISIBLE_DEVICES": "",
        }
        env.update(self.extra_env)
        return env


class OllamaSim:
    """Everything one Ollama simulator process holds."""

    def __init__(self, cfg: OllamaConfig, state: SimState, catalog: Catalog, logs: OllamaLogs | None = None) -> None:
        self.cfg = cfg
        self.state = state
        self.catalog = catalog
        self.logs = logs or OllamaLogs()
        self.style = OpenAIStyle("ollama")
        self.sched = Scheduler(
            num_parallel=cfg.num_parallel,
            max_queue=cfg.max_queue,
            max_loaded=cfg.max_loaded_models,
            num_ctx=cfg.num_ctx,
            load_s=state.timing.load_ms / 1000.0,
            default_keep_alive_s=cfg.keep_alive_s,
            logs=self.logs,
            stats=state.stats,
        )

    def find(self, name: str) -> CatalogModel | None:
        return self.catalog.find(name)


@web.middleware
async def gin_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Gin's access log line per request, and gin's plain 404 for unknown routes or methods."""
    sim = request.app[SIM]
    t0 = time.perf_counter()
    status = 500
    try:
        try:
            resp = await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            resp = web.Response(status=404, text="404 page not found", content_type="text/plain")
        status = resp.status
        return resp
    except asyncio.CancelledError:
        status = request.get("status", 499)
        raise
    except ConnectionResetError:
        status = request.get("status", 499)
        raise
    finally:
        if not request.path.startswith("/_sim/"):
            sim.logs.access(status, time.perf_counter() - t0, request.remote or "", request.method, request.path_qs)


async def _openai(request: web.Request, chat: bool) -> web.StreamResponse:
    sim = request.app[SIM]
    try:
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise BadRequest(f"invalid character looking for beginning of value: {exc.msg}") from exc
        req = parse_request(body, chat)
        model = sim.find(req.model)
        if model is None:
            raise BadRequest(f"model '{req.model}' not found", status=404)
    except BadRequest as exc:
        return json_response(sim.style.error_body(exc), status=exc.status)
    fmt = OpenAIStream(sim.style, req, req.model)
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
    return json_response(
        {
            "object": "list",
            "data": [_model_card(m.full_name, int(m.modified_at.timestamp())) for m in sim.catalog.models],
        }
    )


async def openai_model(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    name = request.match_info["model"]
    model = sim.find(name)
    if model is None:
        return json_response(sim.style.error_body(BadRequest(f"model '{name}' not found", status=404)), status=404)
    return json_response(_model_card(model.full_name, int(model.modified_at.timestamp())))


async def openai_embeddings(request: web.Request) -> web.Response:
    from o2v.simulate.ollama_api import embedding_vector

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
    return json_response(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def build_app(sim: OllamaSim) -> web.Application:
    app = web.Application(middlewares=[gin_middleware], client_max_size=64 * 1024 * 1024)
    app[SIM] = sim
    app[STATE] = sim.state
    app[EXTRA_STATS] = lambda: {
        "pending": sim.sched.pending(),
        "loaded_models": [r.model.full_name for r in sim.sched.runners.values()],
    }
    add_admin_routes(app, sim.state)
    add_native_routes(app)
    app.router.add_post("/v1/chat/completions", openai_chat)
    app.router.add_post("/v1/completions", openai_completions)
    app.router.add_post("/v1/embeddings", openai_embeddings)
    app.router.add_get("/v1/models", openai_models)
    app.router.add_get("/v1/models/{model:.+}", openai_model)

    async def on_startup(app: web.Application) -> None:
        sim.sched.start()

    async def on_cleanup(app: web.Application) -> None:
        await sim.sched.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
