"""The admin API, on its own address (never the public one): routing changes behind a token, plus
``/health`` and Prometheus ``/metrics`` for the monitoring system (read-only, no token).

    GET  /routes                 the routing table in force, the defined clients, ignored options per client
    PUT  /routes/{client}        {"backend": "ollama"|"vllm"}
    PUT  /percent                {"percent": 0..100}   share of unnamed clients on vLLM
    POST /rollback-all           every client back to Ollama, percent 0

Changes are written to the store (audited, version bumped); this replica applies them at once, the others
within ``refresh_s``.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from o2v.errors import StoreError

if TYPE_CHECKING:
    from o2v.gateway.server import Gateway


def admin_app(gw: Gateway) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)

    def authorised(request: web.Request) -> web.Response | None:
        token = gw.config.admin_token.get_secret_value() if gw.config.admin_token else ""
        if not token:
            return _error(403, "routing changes are disabled: set gateway.admin_token to enable the admin API")
        sent = request.headers.get("Authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            return _error(401, "send 'Authorization: Bearer <gateway.admin_token>'")
        return None

    def actor(request: web.Request) -> str:
        return f"admin-api@{request.remote or 'unknown'}"

    async def change(request: web.Request, apply: Any) -> web.Response:
        refused = authorised(request)
        if refused is not None:
            return refused
        try:
            body = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError as exc:
            return _error(400, f"the body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        try:
            table = await asyncio.to_thread(apply, body, actor(request))
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, str(exc))
        except StoreError as exc:
            return _error(503, str(exc))
        await gw.follower.refresh()
        gw.observer.routing_version.set(gw.follower.table.version)
        return web.json_response(table.model_dump())

    async def get_routes(request: web.Request) -> web.Response:
        refused = authorised(request)
        if refused is not None:
            return refused
        table = gw.follower.table
        return web.json_response({
            **table.model_dump(), "clients": gw.directory.names,
            "ignored_options": {c: dict(n) for c, n in gw.observer.ignored_by_client.items()},
        })  # fmt: skip

    async def put_route(request: web.Request) -> web.Response:
        client = request.match_info["client"]
        return await change(request, lambda body, who: gw.store.set_route(
            client, body["backend"], actor=who, reason=str(body.get("reason", ""))))  # fmt: skip

    async def put_percent(request: web.Request) -> web.Response:
        return await change(request, lambda body, who: gw.store.set_percent(
            float(body["percent"]), actor=who, reason=str(body.get("reason", ""))))  # fmt: skip

    async def rollback_all(request: web.Request) -> web.Response:
        return await change(request, lambda body, who: gw.store.reset_routes(
            actor=who, reason=str(body.get("reason", ""))))  # fmt: skip

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=gw.health().body, content_type="application/json")

    async def metrics(request: web.Request) -> web.Response:
        gw.observer.routing_version.set(gw.follower.table.version)
        return web.Response(body=generate_latest(gw.observer.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/routes", get_routes)
    app.router.add_put("/routes/{client}", put_route)
    app.router.add_put("/percent", put_percent)
    app.router.add_post("/rollback-all", rollback_all)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
