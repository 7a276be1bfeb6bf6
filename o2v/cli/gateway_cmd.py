"""``o2v gateway``: the cutover gateway on Ollama's address, sending each client to Ollama or vLLM."""

from __future__ import annotations

from typing import Annotated

import typer

from o2v import event_loop
from o2v.cli.app import ConfigOption, app, fail, settings_or_exit


def parse_routes(items: list[str]) -> dict[str, str]:
    """``CLIENT=ollama|vllm`` flags as a mapping; a malformed one is a usage error naming it."""
    routes: dict[str, str] = {}
    for item in items:
        client, sep, backend = item.partition("=")
        if not sep or not client.strip() or backend.strip() not in ("ollama", "vllm"):
            raise typer.BadParameter(f"expected CLIENT=ollama or CLIENT=vllm, got {item!r}", param_hint="--route")
        routes[client.strip()] = backend.strip()
    return routes


@app.command("gateway")
def gateway(
    config: ConfigOption = None,
    listen: Annotated[str | None, typer.Option(help="HOST:PORT to serve clients on (gateway.listen).")] = None,
    ollama: Annotated[str | None, typer.Option(help="Ollama's internal URL (gateway.ollama_url).")] = None,
    vllm: Annotated[str | None, typer.Option(help="vLLM's URL (gateway.vllm_url).")] = None,
    route: Annotated[
        list[str] | None, typer.Option(help="CLIENT=ollama|vllm, stored in the routing table (repeatable).")
    ] = None,
    percent: Annotated[
        float | None, typer.Option(min=0, max=100, help="Share of unnamed clients sent to vLLM, stored.")
    ] = None,
) -> None:
    """Serve Ollama's native API and the OpenAI API, routing each client to Ollama or vLLM (Ctrl-C stops)."""
    from o2v.config_sections import parse_host_port
    from o2v.gateway.run import serve_forever
    from o2v.gateway.settings import GatewayConfig
    from o2v.store import Store

    routes = parse_routes(route or [])
    settings = settings_or_exit(config)
    if listen is not None:
        try:
            parse_host_port(listen)
        except ValueError as exc:
            fail(f"--listen: {exc}", 2)
    cfg = GatewayConfig.from_settings(settings, listen=listen, ollama=ollama, vllm=vllm)
    with Store.from_settings(settings) as store:
        event_loop.run(serve_forever(cfg, store, routes=routes, percent=percent))  # type: ignore[arg-type]
