"""Pass-through to both backends, the routing decision, identity and the admin API, on real loopback HTTP."""

from __future__ import annotations

import asyncio

import httpx
import orjson
from support.engines import free_port

from o2v.gateway.run import running_gateway
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

from .conftest import ADMIN_TOKEN, MODEL, OLLAMA_ONLY, VLLM_KEY, Running, make_config

CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "stream": True, "max_tokens": 8}


async def _stream_chat(client: httpx.AsyncClient, url: str, **headers: str) -> tuple[str, list[bytes]]:
    async with client.stream("POST", f"{url}/v1/chat/completions", json=CHAT, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        return r.headers["X-O2V-Backend"], [line async for line in r.aiter_lines() if line]


async def test_everyone_starts_on_ollama_and_streams_arrive_whole(gateway: Running) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        backend, lines = await _stream_chat(client, gateway.url)
        root = await client.get(gateway.url + "/")
        head = await client.head(gateway.url + "/")
    assert backend == "ollama"
    assert lines[-1] == "data: [DONE]"
    assert any('"content"' in line for line in lines)
    assert root.text == "Ollama is running"
    assert root.headers["X-O2V-Backend"] == "ollama"
    assert head.status_code == 200


async def test_a_named_client_moved_to_vllm_gets_vllm_and_its_token_never_reaches_it(gateway: Running) -> None:
    gateway.store.set_route("ci-bot", "vllm", actor="test")
    await gateway.gw.follower.refresh()
    async with httpx.AsyncClient(timeout=10) as client:
        moved, lines = await _stream_chat(client, gateway.url, **{"X-O2V-Client": "ci-bot",
                                                                 "Authorization": "Bearer sk-anything"})
        other, _ = await _stream_chat(client, gateway.url, **{"X-O2V-Client": "notebook"})
        models = await client.get(gateway.url + "/v1/models", headers={"X-O2V-Client": "ci-bot"})
    assert (moved, other) == ("vllm", "ollama")
    assert lines[-1] == "data: [DONE]"
    # vLLM requires its key (the simulator answers 401 without it): the gateway sent its own, not the client's.
    assert models.status_code == 200
    assert [m["id"] for m in models.json()["data"]] == [MODEL]


async def test_a_model_vllm_does_not_serve_stays_on_ollama(gateway: Running) -> None:
    gateway.store.set_route("ci-bot", "vllm", actor="test")
    await gateway.gw.follower.refresh()
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(gateway.url + "/api/embed", json={"model": OLLAMA_ONLY, "input": "x"},
                              headers={"X-O2V-Client": "ci-bot"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["X-O2V-Backend"] == "ollama"
    assert r.json()["embeddings"]


async def test_clients_by_source_address_and_sticky_percent(
    ollama_sim: SimulatorProcess, vllm_sim: SimulatorProcess, store: Store
) -> None:
    config = make_config(ollama_sim.url, vllm_sim.url, clients={"lab": {"addresses": ["127.0.0.2/32"]}})
    store.set_route("lab", "vllm", actor="test")
    url = f"http://127.0.0.1:{config.listen_port}"
    async with running_gateway(config, store) as gw:
        seen = {}
        for source in ("127.0.0.2", "127.0.0.3"):
            transport = httpx.AsyncHTTPTransport(local_address=source)
            async with httpx.AsyncClient(transport=transport, timeout=10) as client:
                seen[source] = [(await client.get(url + "/v1/models")).headers["X-O2V-Backend"] for _ in range(3)]
        assert seen == {"127.0.0.2": ["vllm"] * 3, "127.0.0.3": ["ollama"] * 3}
        store.set_percent(100, actor="test")
        await gw.follower.refresh()
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.3")
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            after = [(await client.get(url + "/v1/models")).headers["X-O2V-Backend"] for _ in range(3)]
        assert after == ["vllm"] * 3


async def test_the_admin_api_needs_its_token_and_lives_on_its_own_port(gateway: Running) -> None:
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(timeout=10) as client:
        refused = await client.put(gateway.admin + "/routes/ci-bot", json={"backend": "vllm"})
        wrong = await client.put(gateway.admin + "/routes/ci-bot", json={"backend": "vllm"},
                                 headers={"Authorization": "Bearer nope"})  # fmt: skip
        not_public = await client.put(gateway.url + "/routes/ci-bot", json={"backend": "vllm"}, headers=auth)
        moved = await client.put(gateway.admin + "/routes/ci-bot", json={"backend": "vllm"}, headers=auth)
        bad = await client.put(gateway.admin + "/routes/ci-bot", json={"backend": "gpu"}, headers=auth)
        backend = (await client.get(gateway.url + "/v1/models", headers={"X-O2V-Client": "ci-bot"})).headers
        back = await client.post(gateway.admin + "/rollback-all", json={"reason": "test"}, headers=auth)
        after = (await client.get(gateway.url + "/v1/models", headers={"X-O2V-Client": "ci-bot"})).headers
        metrics = await client.get(gateway.admin + "/metrics")
        health = await client.get(gateway.admin + "/health")
    assert (refused.status_code, wrong.status_code, bad.status_code) == (401, 401, 400)
    assert not_public.headers["X-O2V-Backend"] == "ollama"  # the public port passed it to Ollama, which 404s
    assert not_public.status_code == 404
    assert moved.json()["routes"] == {"ci-bot": "vllm"}
    assert backend["X-O2V-Backend"] == "vllm"
    assert after["X-O2V-Backend"] == "ollama"
    assert back.json()["routes"] == {"ci-bot": "ollama"}
    assert back.json()["percent"] == 0
    assert 'o2v_gateway_requests_total{api="openai",backend="vllm",client="ci-bot",status="200"}' in metrics.text
    assert health.json()["status"] == "ok"
    actions = [(e.actor.split("@")[0], e.action) for e in gateway.store.audit_log()]
    assert actions == [("admin-api", "set_routes"), ("admin-api", "rollback_all")]


async def test_every_model_request_becomes_a_gateway_sample(gateway: Running) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await _stream_chat(client, gateway.url, **{"X-O2V-Client": "ci-bot"})
        r = await client.post(gateway.url + "/api/generate", json={"model": MODEL, "prompt": "hi", "stream": False})
    assert r.status_code == 200
    assert gateway.gw.writer is not None
    await gateway.gw.writer.flush()
    samples = gateway.store.samples(source="gateway")
    assert [(s.client, s.backend, s.api, s.status, s.model) for s in samples] == [
        ("ci-bot", "ollama", "openai", 200, MODEL), ("unnamed:127.0.0.1", "ollama", "native", 200, MODEL),
    ]
    assert samples[0].ttft_ms is not None
    assert samples[0].e2e_ms >= samples[0].ttft_ms
    assert samples[1].output_tokens == orjson.loads(r.content)["eval_count"]
    await asyncio.sleep(0)


async def test_what_reaches_vllm_is_the_gateways_key_and_the_mapped_model(ollama_sim: SimulatorProcess,
                                                                         store: Store) -> None:
    """A recording stand-in for vLLM shows the exact headers and body the gateway sends it."""
    from aiohttp import web

    seen: list[tuple[dict[str, str], bytes]] = []

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "team-llm", "object": "model"}]})

    async def chat(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.json_response({"id": "x", "object": "chat.completion", "choices": []})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        config = make_config(ollama_sim.url, f"http://127.0.0.1:{port}", served_names={MODEL: "team-llm"})
        store.set_percent(100, actor="test")
        async with running_gateway(config, store), httpx.AsyncClient(timeout=10) as client:
            for spelling in ("Authorization", "authorization", "AUTHORIZATION"):
                r = await client.post(f"http://127.0.0.1:{config.listen_port}/v1/chat/completions",
                                      json={"model": MODEL, "messages": []}, headers={spelling: "Bearer client-token"})
                assert r.headers["X-O2V-Backend"] == "vllm"
    finally:
        await runner.cleanup()
    for headers, body in seen:
        sent = [v for k, v in headers.items() if k.lower() == "authorization"]
        assert sent == [f"Bearer {VLLM_KEY}"]
        assert orjson.loads(body)["model"] == "team-llm"
    assert len(seen) == 3


async def test_embeddings_go_to_a_vllm_that_serves_the_embedding_model(ollama_sim: SimulatorProcess,
                                                                        store: Store) -> None:
    """/api/embed and the legacy /api/embeddings, translated onto a stand-in vLLM serving an embedding model."""
    from aiohttp import web

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": OLLAMA_ONLY, "object": "model"}]})

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.6, 0.8]} for i in range(len(inputs))]
        return web.json_response({"object": "list", "model": body["model"], "data": data,
                                  "usage": {"prompt_tokens": 3, "total_tokens": 3}})  # fmt: skip

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/embeddings", embeddings)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        config = make_config(ollama_sim.url, f"http://127.0.0.1:{port}")
        store.set_route("rag", "vllm", actor="test")
        url = f"http://127.0.0.1:{config.listen_port}"
        async with running_gateway(config, store), httpx.AsyncClient(timeout=10) as client:
            headers = {"X-O2V-Client": "rag"}
            embed = await client.post(url + "/api/embed", json={"model": OLLAMA_ONLY, "input": ["a", "b"]},
                                      headers=headers)  # fmt: skip
            legacy = await client.post(url + "/api/embeddings", json={"model": OLLAMA_ONLY, "prompt": "a"},
                                       headers=headers)  # fmt: skip
            other = await client.post(url + "/api/embed", json={"model": OLLAMA_ONLY, "input": "a"})
    finally:
        await runner.cleanup()
    assert embed.headers["X-O2V-Backend"] == "vllm"
    assert [len(v) for v in embed.json()["embeddings"]] == [2, 2]
    assert legacy.headers["X-O2V-Backend"] == "vllm"
    assert legacy.json()["embedding"] == [0.6, 0.8]
    assert other.headers["X-O2V-Backend"] == "ollama"  # a client still on Ollama keeps Ollama's embeddings
