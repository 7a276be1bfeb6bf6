"""The official ``ollama`` and ``openai`` SDKs, pointed at the gateway, work unchanged on both backends."""

from __future__ import annotations

import ollama
import openai
import pytest

from .conftest import MODEL, OLLAMA_ONLY, Running


@pytest.fixture(params=["ollama", "vllm"])
async def routed(request: pytest.FixtureRequest, gateway: Running) -> tuple[Running, str]:
    """The gateway with client 'sdk' routed to one backend; the SDKs identify by header."""
    gateway.store.set_route("sdk", request.param, actor="test")
    await gateway.gw.follower.refresh()
    return gateway, request.param


HEADERS = {"X-O2V-Client": "sdk"}


async def test_ollama_sdk_every_native_endpoint(routed: tuple[Running, str]) -> None:
    gateway, backend = routed
    client = ollama.AsyncClient(host=gateway.url, headers=HEADERS)
    chat = await client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 5})
    assert chat.message.role == "assistant"
    assert chat.message.content
    assert chat.done
    assert chat.eval_count
    assert chat.eval_count <= 5
    assert chat.total_duration
    assert chat.done_reason in ("stop", "length")
    parts = [p async for p in await client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                                stream=True, options={"num_predict": 6, "num_ctx": 4096})]  # fmt: skip
    assert parts[-1].done
    assert parts[-1].eval_count
    assert all(not p.done for p in parts[:-1])
    assert "".join(p.message.content or "" for p in parts)
    gen = await client.generate(model=MODEL, prompt="hello", options={"temperature": 0, "seed": 1, "num_predict": 4})
    assert gen.response
    assert gen.done
    assert gen.prompt_eval_count
    streamed = [p async for p in await client.generate(model=MODEL, prompt="hello", stream=True)]
    assert streamed[-1].done
    assert "".join(p.response for p in streamed)
    tags = await client.list()
    assert MODEL in [m.model for m in tags.models]
    show = await client.show(MODEL)
    assert show.modelinfo is not None or show.details is not None
    assert (await client.ps()).models is not None
    embed = await client.embed(model=OLLAMA_ONLY, input="a sentence")  # vLLM does not serve it: Ollama answers
    assert embed.embeddings
    assert embed.embeddings[0]
    with pytest.raises(ollama.ResponseError) as missing:
        await client.chat(model="no-such-model:1b", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.status_code == 404
    assert "not found" in missing.value.error
    assert gateway.gw.writer is not None
    await gateway.gw.writer.flush()
    on_model = {s.backend for s in gateway.store.samples(source="gateway") if s.model == MODEL}
    assert on_model == {backend}  # the native calls really went to the routed backend


async def test_openai_sdk_every_endpoint(routed: tuple[Running, str]) -> None:
    gateway, backend = routed
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key="anything", default_headers=HEADERS)
    chat = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    assert chat.choices[0].message.content
    assert chat.usage
    assert chat.usage.completion_tokens <= 5
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=5, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage
    completion = await client.completions.create(model=MODEL, prompt="hello", max_tokens=4)
    assert completion.choices[0].text
    models = await client.models.list()
    assert MODEL in [m.id for m in models.data]
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="no-such-model:1b", messages=[{"role": "user", "content": "x"}])
    raw = await client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert raw.headers["X-O2V-Backend"] == backend
