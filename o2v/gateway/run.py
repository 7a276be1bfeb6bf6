"""Start a gateway (public and admin sites) and keep it running until told to stop."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from aiohttp import web

from o2v.gateway.admin import admin_app
from o2v.gateway.server import Gateway
from o2v.gateway.settings import GatewayConfig
from o2v.store import Store
from o2v.store_schema import Backend


@asynccontextmanager
async def running_gateway(
    config: GatewayConfig,
    store: Store,
    *,
    routes: Mapping[str, Backend] | None = None,
    percent: float | None = None,
    actor: str = "o2v gateway",
) -> AsyncIterator[Gateway]:
    """A started gateway listening on its two addresses; routes/percent (from flags) are stored first."""
    if routes:
        await asyncio.to_thread(store.set_routes, dict(routes), actor=actor, reason="--route at start")
    if percent is not None:
        await asyncio.to_thread(store.set_percent, percent, actor=actor, reason="--percent at start")
    gw = Gateway(config, store)
    await gw.start()
    public = gw.public_server()
    admin = web.AppRunner(admin_app(gw), access_log=None)
    try:
        await public.start(config.listen_host, config.listen_port)
        await admin.setup()
        await web.TCPSite(admin, config.admin_host, config.admin_port, reuse_address=True).start()
        yield gw
    finally:
        await public.close()  # streams in flight finish first
        await admin.cleanup()
        await gw.stop()


async def serve_forever(
    config: GatewayConfig, store: Store, *, routes: Mapping[str, Backend] | None = None, percent: float | None = None
) -> None:
    async with running_gateway(config, store, routes=routes, percent=percent):
        # What is loaded by now (modules, settings, the application) lives as long as the process: moved out of
        # the collector's sight, a full collection no longer re-scans it while requests are being served.
        gc.freeze()
        print(
            f"o2v gateway on {config.listen_host}:{config.listen_port} (admin {config.admin_host}:{config.admin_port})"
            f" -> Ollama {config.ollama_url}, vLLM {config.vllm_url}",
            file=sys.stderr, flush=True,
        )  # fmt: skip
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
