"""The gateway: its own lean HTTP server on the public address (Ollama's), an aiohttp application on the admin one.

Per request: identify the caller, read and check the body, choose the backend from the routing table in
force (a copy refreshed from the store every ``refresh_s``), then pass the request through or serve the
native API from vLLM. The decision is taken once, so a routing change never moves a request in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson

from o2v.gateway.identity import ClientDirectory, Unauthorized
from o2v.gateway.native_vllm import NATIVE_ON_VLLM, serve_native
from o2v.gateway.observe import Exchange, Observer
from o2v.gateway.proxy import pass_through, with_model
from o2v.gateway.public_http import Reply, Request, Stream
from o2v.gateway.public_server import PublicServer
from o2v.gateway.replies import api_of, error_response
from o2v.gateway.routing import ModelMap, RouteFollower, choose_backend
from o2v.gateway.settings import GatewayConfig
from o2v.gateway.upstream import Upstream, UpstreamError
from o2v.store import Store
from o2v.store_schema import Backend
from o2v.store_writer import SampleWriter

log = logging.getLogger("o2v.gateway")
PUBLIC_HEALTH = "/o2v/health"
_MODEL_IN_BODY = frozenset({"POST", "PUT", "DELETE"})


class Gateway:
    def __init__(self, config: GatewayConfig, store: Store, *, record_samples: bool = True) -> None:
        self.config = config
        self.store = store
        self.directory = ClientDirectory(
            {name: key.get_secret_value() for name, key in config.api_keys.items()},
            config.clients,
            require_keys=config.require_client_keys,
        )
        self.models = ModelMap(config.served_names)
        self.follower = RouteFollower(store.routing_version, store.routing_table, interval_s=config.refresh_s)
        key = config.vllm_api_key.get_secret_value() if config.vllm_api_key else None
        self.upstreams = {
            backend: Upstream(
                backend, url, api_key=key if backend == "vllm" else None,
                connect_timeout_s=config.connect_timeout_s, response_timeout_s=config.response_timeout_s,
                idle_timeout_s=config.idle_timeout_s,
            )
            for backend, url in _backends(config)
        }  # fmt: skip
        self.writer: SampleWriter | None = store.writer() if record_samples else None
        self.observer = Observer(self.writer)
        self.vllm_cards: list[dict[str, Any]] = []
        self.inventory_models: list[dict[str, Any]] = _inventory_models(config)
        self._models_task: asyncio.Task[None] | None = None
        self.ollama_version: str | None = None

    # -- life cycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.start()
        await self.follower.start()
        if self.writer is not None:
            await self.writer.__aenter__()
        await self.refresh_models()
        with contextlib.suppress(UpstreamError, AttributeError):
            # /api/version for clients on vLLM reports the Ollama they were moved from, when it answers.
            self.ollama_version = str((await self.upstreams["ollama"].get_json("/api/version")).get("version"))
        self._models_task = asyncio.create_task(self._follow_models(), name="o2v-gateway-models")

    async def stop(self) -> None:
        if self._models_task is not None:
            self._models_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._models_task
        await self.follower.stop()
        if self.writer is not None:
            await self.writer.aclose()
        for upstream in self.upstreams.values():
            await upstream.close()

    async def refresh_models(self) -> bool:
        """Re-read vLLM's /v1/models; on failure keep the last list (a restart of vLLM moves nobody)."""
        try:
            data = await self.upstreams["vllm"].get_json("/v1/models")
        except UpstreamError as exc:
            log.warning("vLLM's model list not refreshed: %s", exc)
            return False
        self.vllm_cards = [c for c in data.get("data", []) if isinstance(c, dict)]
        self.models.update(str(c.get("id")) for c in self.vllm_cards)
        return True

    async def _follow_models(self) -> None:
        while True:
            await asyncio.sleep(self.config.models_refresh_s if self.models.known else 1.0)
            await self.refresh_models()

    # -- the public application -------------------------------------------------------------------------------
    def public_server(self) -> PublicServer:
        """Every path on the public address is the gateway's: one handler, no router."""
        return PublicServer(self.handle, self._failed, max_body_bytes=self.config.max_body_bytes)

    def health(self) -> Reply:
        table = self.follower.table
        return Reply(orjson.dumps({
            "status": "ok", "routing_version": table.version, "routing_stale": self.follower.stale_since is not None,
            "vllm_models": sorted(self.models.served),
        }))  # fmt: skip

    async def handle(self, request: Request) -> Reply | Stream:
        if request.path == PUBLIC_HEALTH and request.method == "GET":
            return self.health()
        api = api_of(request.path)
        try:
            caller = self.directory.identify(
                request.header(b"authorization"), request.header(b"x-o2v-client"), request.remote,
                request.header(b"user-agent"),
            )  # fmt: skip
        except Unauthorized as exc:
            return error_response(api, 401, str(exc), "ollama")
        # The gateway's own refusals still say where this client is routed (every response carries the header).
        home = choose_backend(caller, self.follower.table, vllm_serves_model=True)
        if request.too_large:
            return self._too_large(api, request.content_length, home)
        body = request.body
        parsed: dict[str, Any] | None = None
        if body and request.method in _MODEL_IN_BODY:
            try:
                loaded = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                return error_response(api, 400, f"the request body is not valid JSON: {exc}", home)
            if not isinstance(loaded, dict):
                kind = type(loaded).__name__
                return error_response(api, 400, f"the request body must be a JSON object, got {kind}", home)
            parsed = loaded
        model = _model_of(parsed)
        table = self.follower.table
        path = request.path
        native_here = api == "native" and path in NATIVE_ON_VLLM
        eligible = api == "openai" or native_here
        backend = choose_backend(caller, table, vllm_serves_model=eligible and self.models.vllm_serves(model))
        ex = Exchange(caller=caller, api=api, path=path, backend=backend, model=model or "")
        gauge = self.observer.in_flight_for(backend)
        gauge.inc()
        try:
            if backend == "vllm" and api == "native":
                response = await serve_native(self, request, ex, parsed)
            else:
                upstream = self.upstreams[backend]
                if backend == "vllm" and model is not None:
                    body = with_model(body, parsed, self.models.to_vllm(model))
                response = await pass_through(request, ex, upstream, body or None)
        finally:
            gauge.dec()
            if model is not None:
                self.observer.record(ex)
            else:
                self.observer.count(backend, caller.name, api, ex.status)
        return response

    def _failed(self, request: Request, status: int, message: str) -> Reply:
        """The gateway's own failure, in the shape of the client's API."""
        return error_response(api_of(request.path), status, message)

    def _too_large(self, api: Any, size: int | None, backend: str) -> Reply:
        got = f"{size} bytes" if size is not None else "more"
        return error_response(api, 413, f"the request body is too large: {got}, the gateway accepts at most "
                              f"{self.config.max_body_bytes} bytes (gateway.max_body_bytes)", backend)  # fmt: skip


def _backends(config: GatewayConfig) -> list[tuple[Backend, str]]:
    return [("ollama", config.ollama_url), ("vllm", config.vllm_url)]


def _model_of(parsed: dict[str, Any] | None) -> str | None:
    if not parsed:
        return None
    value = parsed.get("model") or parsed.get("name")
    return value if isinstance(value, str) and value else None


def _inventory_models(config: GatewayConfig) -> list[dict[str, Any]]:
    if config.inventory_path is None:
        return []
    from o2v.errors import ConfigError
    from o2v.inventory.types import Inventory

    try:
        inventory = Inventory.model_validate_json(config.inventory_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError([f"gateway.inventory_path: cannot read {config.inventory_path}: {exc}"]) from exc
    return [m.model_dump(mode="json") for m in inventory.models]
