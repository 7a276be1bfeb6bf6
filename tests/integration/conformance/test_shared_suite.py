"""One suite, both simulators: the project's OpenAI-compatible clients against vLLM and Ollama's /v1.

Whatever passes here is what every phase may rely on whichever server is behind the URL.
"""

from __future__ import annotations

import asyncio

import pytest

from o2v.errors import ServerHTTPError, ServerTimeout, StreamInterrupted
from o2v.servers import AsyncOpenAIClient, OpenAIClient

from .sims import Target, faults

MSGS = [{"role": "user", "content": "Say something about queues."}]


def test_models_list_the_served_model(target: Target) -> None:
    with OpenAIClient(target.url + "/v1/") as client:
        cards = client.models()
        card = client.model(target.model)
    assert [c.id for c in cards] == [target.model]
    assert card.object == "model"
    assert card.max_model_len == target.max_model_len


def test_chat_non_streaming(target: Target) -> None:
    with OpenAIClient(target.url) as client:
        answer = client.chat(target.model, MSGS, max_tokens=4, temperature=0.0, seed=1)
    assert answer.model == target.model
    assert answer.text
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 4


def test_chat_stream_with_usage_and_timing(target: Target) -> None:
    with OpenAIClient(target.url) as client, client.stream_chat(target.model, MSGS, max_tokens=5) as stream:
        chunks = list(stream)
    result = stream.result
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == []  # the usage chunk of stream_options.include_usage
    assert result.completion_tokens == 5
    assert result.prompt_tokens is not None
    assert result.prompt_tokens > 0
    assert result.finish_reason == "length"
    assert result.chunks == 5
    timing = result.timing
    assert timing.ttft_ms is not None
    assert timing.e2e_ms is not None
    assert 0 < timing.ttft_ms <= timing.e2e_ms < 5_000
    assert len(timing.itl_ms) == 4


def test_same_seed_same_text(target: Target) -> None:
    with OpenAIClient(target.url) as client:
        first = client.chat(target.model, MSGS, max_tokens=6, seed=42).text
        second = client.chat(target.model, MSGS, max_tokens=6, seed=42).text
    assert first == second


def test_text_completion_stream(target: Target) -> None:
    with OpenAIClient(target.url) as client, client.stream_complete(target.model, "Once", max_tokens=3) as stream:
        result = stream.collect()
    assert result.text
    assert result.completion_tokens == 3


def test_unknown_model_is_404_with_the_server_message(target: Target) -> None:
    with OpenAIClient(target.url) as client, pytest.raises(ServerHTTPError) as info:
        client.chat("no-such-model", MSGS, max_tokens=2)
    assert info.value.status == 404
    assert "no-such-model" in info.value.server_message


def test_injected_error_status_keeps_the_message(target: Target) -> None:
    with faults(target.url, error_rate=1.0, error_status=503), OpenAIClient(target.url) as client:
        with pytest.raises(ServerHTTPError) as info:
            client.chat(target.model, MSGS, max_tokens=2)
    assert info.value.status == 503
    assert info.value.server_message


def test_mid_stream_disconnect_is_interrupted(target: Target) -> None:
    with faults(target.url, disconnect_after_chunks=2), OpenAIClient(target.url) as client:
        with pytest.raises(StreamInterrupted), client.stream_chat(target.model, MSGS) as s:
            s.collect()
    assert s.result.chunks <= 2


def test_stall_beyond_timeout_is_server_timeout(target: Target) -> None:
    with faults(target.url, stall_ms=3000), OpenAIClient(target.url, timeout_s=0.5) as client:
        with pytest.raises(ServerTimeout), client.stream_chat(target.model, MSGS, max_tokens=4) as s:
            s.collect()
    assert s.timing.first_token_s is not None


async def test_async_client_concurrent_streams(target: Target) -> None:
    async with AsyncOpenAIClient(target.url) as client:

        async def one(seed: int) -> int | None:
            async with client.stream_chat(target.model, MSGS, max_tokens=4, seed=seed) as stream:
                return (await stream.collect()).completion_tokens

        counts = await asyncio.gather(*(one(seed) for seed in range(8)))
    assert counts == [4] * 8


def test_embeddings(target: Target) -> None:
    """Ollama embeds with any model; vLLM refuses a generative model with a 400, as the real one does."""
    with OpenAIClient(target.url) as client:
        if target.name == "vllm":
            with pytest.raises(ServerHTTPError) as info:
                client.embeddings(target.model, ["first text"])
            assert info.value.status == 400
            assert "Embeddings API" in info.value.server_message
            return
        answer = client.embeddings(target.model, ["first text", "second text"])
    assert [e.index for e in answer.data] == [0, 1]
    assert len(answer.data[0].embedding) > 0
