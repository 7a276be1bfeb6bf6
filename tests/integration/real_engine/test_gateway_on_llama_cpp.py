"""The gateway in front of a real engine (llama.cpp's OpenAI-compatible server standing in for vLLM): the official
SDKs through the gateway, the native API translated onto a server written by someone else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import ollama
import openai
import pytest
from support.engines import free_port

from o2v.gateway.run import running_gateway
from o2v.gateway.settings import GatewayConfig
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

from .conftest import Engine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
MOVED = {"X-O2V-Client": "moved"}


@pytest.fixture
async def gateway_url(llama_server: Engine, tmp_path: Path) -> AsyncIterator[str]:
    with SimulatorProcess("ollama", args=["--ttft-ms", "1", "--itl-ms", "1"]) as ollama_sim, \
            Store(f"sqlite:///{tmp_path / 'o2v.db'}") as store:  # fmt: skip
        store.set_route("moved", "vllm", actor="test")
        config = GatewayConfig(listen_port=free_port(), admin_port=free_port(), ollama_url=ollama_sim.url,
                               vllm_url=llama_server.url)  # fmt: skip
        async with running_gateway(config, store) as gw:
            assert gw.models.vllm_serves(llama_server.model)
            yield f"http://127.0.0.1:{config.listen_port}"


async def test_openai_sdk_through_the_gateway(gateway_url: str, llama_server: Engine) -> None:
    client = openai.AsyncOpenAI(base_url=gateway_url + "/v1", api_key="x", default_headers=MOVED)
    raw = await client.chat.completions.with_raw_response.create(
        model=llama_server.model, messages=[{"role": "user", "content": "hello"}], max_tokens=6, temperature=0
    )
    assert raw.headers["X-O2V-Backend"] == "vllm"
    assert raw.parse().usage is not None
    stream = await client.chat.completions.create(
        model=llama_server.model, messages=[{"role": "user", "content": "hello"}], max_tokens=6, stream=True
    )
    assert [c async for c in stream]


async def test_ollama_sdk_native_api_translated_onto_the_engine(gateway_url: str, llama_server: Engine) -> None:
    client = ollama.AsyncClient(host=gateway_url, headers=MOVED)
    whole = await client.chat(model=llama_server.model, messages=[{"role": "user", "content": "hello"}],
                              options={"num_predict": 6, "temperature": 0, "seed": 1})  # fmt: skip
    assert whole.done
    assert whole.eval_count is not None
    assert 1 <= whole.eval_count <= 6
    parts = [p async for p in await client.generate(model=llama_server.model, prompt="hello", stream=True,
                                                    options={"num_predict": 6})]  # fmt: skip
    assert parts[-1].done
    assert parts[-1].eval_count
    assert llama_server.model in [m.model for m in (await client.list()).models]
