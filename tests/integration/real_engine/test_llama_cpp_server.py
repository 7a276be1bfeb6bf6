"""The project's OpenAI client against a real engine (llama.cpp, the engine inside Ollama).

The simulators were written from the specification; this checks the client against a server written by
someone else, with real tokenization, real sampling and real SSE framing.
"""

from __future__ import annotations

import asyncio

import pytest

from o2v.errors import ServerHTTPError
from o2v.servers import AsyncOpenAIClient, OpenAIClient, StreamResult

from .conftest import Engine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MSGS = [{"role": "user", "content": "hello world, how is the queue?"}]


def test_models(llama_server: Engine) -> None:
    with OpenAIClient(llama_server.url + "/v1") as client:
        cards = client.models()
    assert [c.id for c in cards] == [llama_server.model]


def test_chat_non_streaming(llama_server: Engine) -> None:
    with OpenAIClient(llama_server.url) as client:
        answer = client.chat(llama_server.model, MSGS, max_tokens=8, temperature=0.0, seed=1)
    assert answer.usage is not None
    assert 1 <= answer.usage.completion_tokens <= 8
    assert answer.usage.prompt_tokens > 5
    assert answer.choices[0].finish_reason in {"stop", "length"}
    assert answer.choices[0].message.role == "assistant"


def test_chat_stream_timing(llama_server: Engine) -> None:
    with OpenAIClient(llama_server.url) as client:
        with client.stream_chat(llama_server.model, MSGS, max_tokens=8, temperature=0.0, seed=1) as stream:
            result = stream.collect()
        again = client.chat(llama_server.model, MSGS, max_tokens=8, temperature=0.0, seed=1)
    assert result.finish_reason in {"stop", "length"}
    assert result.text == again.text  # greedy decoding: streaming and non-streaming agree
    timing = result.timing
    assert timing.first_byte_s is not None
    assert timing.last_s is not None
    assert timing.first_byte_s <= timing.last_s
    assert timing.events >= 1
    if result.chunks:
        assert timing.ttft_ms is not None
        assert timing.ttft_ms <= timing.last_s * 1000


def test_text_completion_stream(llama_server: Engine) -> None:
    with OpenAIClient(llama_server.url) as client:
        with client.stream_complete(llama_server.model, "the model server", max_tokens=6, temperature=0.0) as s:
            result = s.collect()
    assert result.finish_reason in {"stop", "length"}


def test_prompt_beyond_context_is_an_http_error_with_the_engine_message(llama_server: Engine) -> None:
    long = [{"role": "user", "content": "queue " * (llama_server.n_ctx * 2)}]
    with OpenAIClient(llama_server.url) as client, pytest.raises(ServerHTTPError) as info:
        client.chat(llama_server.model, long, max_tokens=4)
    assert info.value.status == 400
    assert "context" in info.value.server_message.lower()


async def test_async_concurrent_streams_queue_and_agree(llama_server: Engine) -> None:
    """Two streams at once on a one-slot engine: both complete, greedy text identical, the second waits."""
    async with AsyncOpenAIClient(llama_server.url) as client:

        async def one() -> StreamResult:
            async with client.stream_chat(llama_server.model, MSGS, max_tokens=4, temperature=0.0) as stream:
                return await stream.collect()

        first, second = await asyncio.gather(one(), one())
    assert first.text == second.text
    assert first.finish_reason in {"stop", "length"}
    assert second.finish_reason in {"stop", "length"}
    assert first.timing.e2e_ms is not None
    assert second.timing.e2e_ms is not None
