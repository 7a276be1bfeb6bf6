"""Bad input and bad backends: every failure answered in the client API's shape, with the reason.

A backend that is down or hangs only fails the clients routed to it; the other backend's clients carry on.
"""

from __future__ import annotations

import httpx
import pytest

from o2v.gateway.run import running_gateway
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

from .conftest import FAST, MODEL, VLLM_KEY, Running, make_config

MOVED = {"X-O2V-Client": "moved"}


def _native_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["X-O2V-Backend"] in ("ollama", "vllm")  # on every response, the gateway's own errors too
    assert set(r.json()) == {"error"}
    assert isinstance(r.json()["error"], str)
    return str(r.json()["error"])


def _openai_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["X-O2V-Backend"] in ("ollama", "vllm")
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return str(error["message"])


async def test_malformed_json_and_untranslatable_requests(gateway: Running) -> None:
    gateway.store.set_route("moved", "vllm", actor="test")
    await gateway.gw.follower.refresh()
    async with httpx.AsyncClient(timeout=10) as client:
        native = await client.post(gateway.url + "/api/chat", content=b'{"model": "x", ', headers=MOVED)
        openai = await client.post(gateway.url + "/v1/chat/completions", content=b"[1, 2", headers=MOVED)
        not_object = await client.post(gateway.url + "/api/generate", content=b"[1]")
        bad_images = await client.post(
            gateway.url + "/api/generate", json={"model": MODEL, "prompt": "x", "images": "nope"}, headers=MOVED
        )
    assert "not valid JSON" in _native_error(native, 400)
    assert native.headers["X-O2V-Backend"] == "vllm"  # where this client is routed, though nothing was sent
    assert "not valid JSON" in _openai_error(openai, 400)
    assert "must be a JSON object" in _native_error(not_object, 400)
    assert "images" in _native_error(bad_images, 400)
    assert bad_images.headers["X-O2V-Backend"] == "vllm"


async def test_unknown_model_gets_the_servers_own_not_found(gateway: Running) -> None:
    gateway.store.set_route("moved", "vllm", actor="test")
    await gateway.gw.follower.refresh()
    async with httpx.AsyncClient(timeout=10) as client:
        native = await client.post(gateway.url + "/api/generate", json={"model": "ghost:1b", "prompt": "x"},
                                   headers=MOVED)  # fmt: skip
        openai = await client.post(gateway.url + "/v1/completions", json={"model": "ghost:1b", "prompt": "x"},
                                   headers=MOVED)  # fmt: skip
        show = await client.post(gateway.url + "/api/show", json={"model": "ghost:1b"}, headers=MOVED)
    assert "ghost:1b" in _native_error(native, 404)
    assert "ghost:1b" in _openai_error(openai, 404)
    assert "ghost:1b" in _native_error(show, 404)


async def test_oversized_bodies_are_refused_before_reaching_a_backend(
    ollama_sim: SimulatorProcess, vllm_sim: SimulatorProcess, store: Store
) -> None:
    config = make_config(ollama_sim.url, vllm_sim.url, max_body_bytes=4096)
    url = f"http://127.0.0.1:{config.listen_port}"
    big = {"model": MODEL, "prompt": "x" * 10_000}
    async with running_gateway(config, store), httpx.AsyncClient(timeout=10) as client:
        native = await client.post(url + "/api/generate", json=big)
        openai = await client.post(url + "/v1/completions", json=big)

        async def chunked() -> object:
            yield b'{"model": "llama3.1:8b", "prompt": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}'

        streamed = await client.post(url + "/api/generate", content=chunked())  # no Content-Length
    assert "at most 4096 bytes" in _native_error(native, 413)
    assert "at most 4096 bytes" in _openai_error(openai, 413)
    assert "too large" in _native_error(streamed, 413)


async def test_client_keys_when_required(
    ollama_sim: SimulatorProcess, vllm_sim: SimulatorProcess, store: Store
) -> None:
    config = make_config(ollama_sim.url, vllm_sim.url, api_keys={"ci-bot": "key-ci"}, require_client_keys=True)
    store.set_route("ci-bot", "vllm", actor="test")
    url = f"http://127.0.0.1:{config.listen_port}"
    async with running_gateway(config, store), httpx.AsyncClient(timeout=10) as client:
        none = await client.get(url + "/api/tags")
        wrong = await client.get(url + "/v1/models", headers={"Authorization": "Bearer key-cj"})
        right = await client.get(url + "/v1/models", headers={"Authorization": "Bearer key-ci"})
    assert "requires a client key" in _native_error(none, 401)
    assert "not one of them" in _openai_error(wrong, 401)
    assert right.status_code == 200
    assert right.headers["X-O2V-Backend"] == "vllm"


async def test_an_unknown_token_identifies_nobody_when_keys_are_optional(gateway: Running) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(gateway.url + "/v1/models", headers={"Authorization": "Bearer sk-whatever"})
    assert r.status_code == 200
    assert r.headers["X-O2V-Backend"] == "ollama"


@pytest.mark.parametrize("down", ["vllm", "ollama"])
async def test_a_backend_that_is_down_fails_only_its_own_clients(
    down: str, ollama_sim: SimulatorProcess, store: Store
) -> None:
    own_ollama = SimulatorProcess("ollama", args=[*FAST, "--model", MODEL]).start()
    own_vllm = SimulatorProcess("vllm", args=[*FAST, "--served-model-name", MODEL, "--api-key", VLLM_KEY]).start()
    try:
        config = make_config(own_ollama.url, own_vllm.url)
        store.set_route("moved", "vllm", actor="test")
        url = f"http://127.0.0.1:{config.listen_port}"
        async with running_gateway(config, store), httpx.AsyncClient(timeout=10) as client:
            (own_vllm if down == "vllm" else own_ollama).stop()
            body = {"model": MODEL, "prompt": "x", "stream": False}
            moved = await client.post(url + "/api/generate", json=body, headers=MOVED)
            stayed = await client.post(url + "/api/generate", json=body)
            moved_openai = await client.post(url + "/v1/completions", json={"model": MODEL, "prompt": "x"},
                                             headers=MOVED)  # fmt: skip
    finally:
        own_ollama.stop()
        own_vllm.stop()
    failed, working = (moved, stayed) if down == "vllm" else (stayed, moved)
    name = "vLLM" if down == "vllm" else "Ollama"
    assert f"{name} at http://127.0.0.1" in _native_error(failed, 502)
    assert "not reachable" in failed.json()["error"]
    assert working.status_code == 200
    assert working.json()["done"] is True
    if down == "vllm":
        assert "not reachable" in _openai_error(moved_openai, 502)
    else:
        assert moved_openai.status_code == 200


async def test_a_backend_that_hangs_is_cut_off_with_the_reason(vllm_sim: SimulatorProcess, store: Store) -> None:
    hanging_ollama = SimulatorProcess("ollama", args=[*FAST, "--model", MODEL]).start()
    try:
        config = make_config(hanging_ollama.url, vllm_sim.url, response_timeout_s=0.5, idle_timeout_s=0.5)
        store.set_route("moved", "vllm", actor="test")
        url = f"http://127.0.0.1:{config.listen_port}"
        async with running_gateway(config, store), httpx.AsyncClient(timeout=10) as client:
            (await client.post(hanging_ollama.url + "/_sim/faults", json={"added_latency_ms": 3000})).raise_for_status()
            silent = await client.post(url + "/api/generate", json={"model": MODEL, "prompt": "x", "stream": False})
            moved = await client.post(url + "/api/generate", json={"model": MODEL, "prompt": "x", "stream": False},
                                      headers=MOVED)  # fmt: skip
            stall = {"reset": True, "stall_ms": 3000}
            (await client.post(hanging_ollama.url + "/_sim/faults", json=stall)).raise_for_status()
            async with client.stream("POST", url + "/api/generate", json={"model": MODEL, "prompt": "x"}) as r:
                lines = [line async for line in r.aiter_lines() if line]
    finally:
        hanging_ollama.stop()
    assert "did not answer" in _native_error(silent, 504)
    assert moved.status_code == 200
    assert r.status_code == 200
    assert '"error"' in lines[-1]
    assert "sent nothing for 0.5s" in lines[-1]
