"""The Ollama simulator: native ``/api/*`` and OpenAI-compatible ``/v1/*`` routes over one scheduler.

Each request follows Ollama's path (``ollama_sched``): a loaded model is used at once (since 0.11.5),
anything else takes the pending queue (503 when full) and may load a model, which blocks the queue;
then a slot of the model (unbounded wait) -> prefill -> tokens at the pace the busy slots allow ->
release.  A client that leaves before its slot is granted is logged as Ollama logs it and answered 499.
This module only assembles the app; the pieces import one way (see ``ollama_state``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from o2v.simulate.common import EXTRA_STATS, STATE, add_admin_routes
from o2v.simulate.ollama_api import add_native_routes
from o2v.simulate.ollama_openai import add_openai_routes
from o2v.simulate.ollama_state import OLLAMA_VERSION, SIM, OllamaConfig, OllamaSim

__all__ = ["OLLAMA_VERSION", "OllamaConfig", "OllamaSim", "build_app"]


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
    add_openai_routes(app)

    async def on_startup(app: web.Application) -> None:
        sim.sched.start()

    async def on_cleanup(app: web.Application) -> None:
        await sim.sched.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
