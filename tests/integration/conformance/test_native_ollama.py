"""The project's OllamaClient (native API) against the Ollama simulator."""

from __future__ import annotations

import pytest

from o2v.errors import ServerHTTPError, StreamInterrupted
from o2v.servers import AsyncOllamaClient, OllamaClient
from o2v.simulate.process import SimulatorProcess

from .sims import OLLAMA_MODEL, faults

MSGS = [{"role": "user", "content": "Why is the queue long?"}]


def test_version_tags_show(ollama_sim: SimulatorProcess) -> None:
    with OllamaClient(ollama_sim.url) as client:
        assert client.is_running()
        assert client.version().count(".") == 2
        tags = client.tags()
        show = client.show(OLLAMA_MODEL)
    assert [t.name for t in tags] == [OLLAMA_MODEL]
    assert tags[0].details.quantization_level == "Q4_K_M"
    assert len(tags[0].digest) == 64
    assert tags[0].size_bytes > 0
    assert show.architecture == "llama"
    assert show.context_length == 131072
    assert show.arch_value("attention.head_count_kv") == 8
    assert "completion" in show.capabilities


def test_load_ps_unload(ollama_sim: SimulatorProcess) -> None:
    with OllamaClient(ollama_sim.url) as client:
        assert client.load(OLLAMA_MODEL, keep_alive="5m").done_reason == "load"
        running = client.ps()
        assert [m.name for m in running] == [OLLAMA_MODEL]
        assert running[0].size_vram_bytes > 0
        assert running[0].expires_at
        assert client.unload(OLLAMA_MODEL).done_reason == "unload"
        assert client.ps() == []


def test_generate_non_streaming_metrics_in_nanoseconds(ollama_sim: SimulatorProcess) -> None:
    with OllamaClient(ollama_sim.url) as client:
        answer = client.generate(OLLAMA_MODEL, "hello", options={"num_predict": 4, "seed": 3})
    assert answer.done
    assert answer.done_reason == "length"
    assert answer.eval_count == 4
    assert answer.total_duration_ns is not None
    assert answer.eval_duration_ns is not None
    assert answer.total_duration_ns >= answer.eval_duration_ns > 0
    assert answer.context


def test_stream_chat_and_generate(ollama_sim: SimulatorProcess) -> None:
    with OllamaClient(ollama_sim.url) as client:
        with client.stream_chat(OLLAMA_MODEL, MSGS, options={"num_predict": 5}) as stream:
            chunks = list(stream)
        with client.stream_generate(OLLAMA_MODEL, "hi", options={"num_predict": 3}) as gen:
            generated = gen.collect()
    assert chunks[-1].done
    assert not any(c.done for c in chunks[:-1])
    assert chunks[-1].eval_count == 5
    assert chunks[0].total_duration_ns is None  # metrics only on the final line
    assert stream.result.completion_tokens == 5
    assert stream.result.timing.ttft_ms is not None
    assert generated.completion_tokens == 3
    assert generated.text


def test_unknown_model_404(ollama_sim: SimulatorProcess) -> None:
    with OllamaClient(ollama_sim.url) as client:
        with pytest.raises(ServerHTTPError) as info:
            client.show("nope:1b")
        with pytest.raises(ServerHTTPError) as streamed, client.stream_chat("nope:1b", MSGS):
            pass
    assert (info.value.status, info.value.server_message) == (404, "model 'nope:1b' not found")
    assert streamed.value.status == 404


def test_native_disconnect_mid_stream(ollama_sim: SimulatorProcess) -> None:
    with faults(ollama_sim.url, disconnect_after_chunks=1), OllamaClient(ollama_sim.url) as client:
        with pytest.raises(StreamInterrupted), client.stream_generate(OLLAMA_MODEL, "x") as stream:
            stream.collect()


async def test_async_native_client(ollama_sim: SimulatorProcess) -> None:
    async with AsyncOllamaClient(ollama_sim.url) as client:
        assert await client.is_running()
        async with client.stream_chat(OLLAMA_MODEL, MSGS, options={"num_predict": 2}) as stream:
            result = await stream.collect()
        cards = await client.openai().models()
    assert result.completion_tokens == 2
    assert cards[0].owned_by == "library"


def test_native_embed(ollama_sim: SimulatorProcess) -> None:
    with OllamaClient(ollama_sim.url) as client:
        answer = client.embed(OLLAMA_MODEL, ["a", "b"])
    assert len(answer.embeddings) == 2
    assert len(answer.embeddings[0]) > 0
