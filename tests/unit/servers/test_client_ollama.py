"""OllamaClient against canned Ollama answers on an httpx.MockTransport."""

from __future__ import annotations

import httpx
import pytest
from servers_wire import Recorder, chunked, ndjson

from o2v.errors import ServerHTTPError, ServerStreamError, StreamInterrupted
from o2v.servers import AsyncOllamaClient, OllamaClient

MODEL = "llama3.1:8b"
MSGS = [{"role": "user", "content": "hi"}]
DETAILS = {
    "parent_model": "",
    "format": "gguf",
    "family": "llama",
    "families": ["llama"],
    "parameter_size": "8.0B",
    "quantization_level": "Q4_K_M",
}
FINAL = {
    "done": True,
    "done_reason": "stop",
    "total_duration": 2_000_000_000,
    "load_duration": 1_000_000,
    "prompt_eval_count": 11,
    "prompt_eval_duration": 5_000_000,
    "eval_count": 2,
    "eval_duration": 40_000_000,
}


def test_version_tags_ps_show() -> None:
    tag = {
        "name": MODEL,
        "model": MODEL,
        "modified_at": "2025-01-15T10:00:00Z",
        "size": 4920753328,
        "digest": "a" * 64,
        "details": DETAILS,
    }
    running = {
        **tag,
        "expires_at": "2025-01-15T10:05:00Z",
        "size_vram": 5_000_000_000,
        "context_length": 4096,
    }
    info = {
        "general.architecture": "llama",
        "general.parameter_count": 8030261248,
        "llama.context_length": 131072,
        "llama.block_count": 32,
        "llama.attention.head_count_kv": 8,
    }
    wire = Recorder(
        {
            "GET /": httpx.Response(200, text="Ollama is running"),
            "GET /api/version": httpx.Response(200, json={"version": "0.12.3"}),
            "GET /api/tags": httpx.Response(200, json={"models": [tag]}),
            "GET /api/ps": httpx.Response(200, json={"models": [running]}),
            "POST /api/show": httpx.Response(
                200, json={"details": DETAILS, "model_info": info, "capabilities": ["completion", "tools"]}
            ),
        }
    )
    with OllamaClient("http://sim:11434/", transport=wire.transport()) as client:
        assert client.is_running()
        assert client.version() == "0.12.3"
        tags = client.tags()
        ps = client.ps()
        show = client.show(MODEL)
    assert tags[0].size_bytes == 4920753328
    assert tags[0].details.quantization_level == "Q4_K_M"
    assert ps[0].size_vram_bytes == 5_000_000_000
    assert ps[0].context_length == 4096
    assert show.architecture == "llama"
    assert show.context_length == 131072
    assert show.arch_value("attention.head_count_kv") == 8
    assert show.parameter_count == 8030261248
    assert wire.body() == {"model": MODEL}


def test_generate_non_streaming_reads_nanoseconds() -> None:
    wire = Recorder({"POST /api/generate": httpx.Response(200, json={"model": MODEL, "response": "Hi", **FINAL})})
    with OllamaClient("http://sim", transport=wire.transport()) as client:
        answer = client.generate(MODEL, "hello", options={"num_predict": 2, "seed": 1}, keep_alive="5m")
    assert answer.response == "Hi"
    assert answer.total_duration_ns == 2_000_000_000
    assert answer.eval_count == 2
    assert wire.body() == {
        "model": MODEL,
        "stream": False,
        "prompt": "hello",
        "options": {"num_predict": 2, "seed": 1},
        "keep_alive": "5m",
    }


def test_load_and_unload_bodies() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        reason = "unload" if b'"keep_alive": 0' in request.content or b'"keep_alive":0' in request.content else "load"
        return httpx.Response(200, json={"model": MODEL, "response": "", "done": True, "done_reason": reason})

    wire = Recorder({"POST /api/generate": answer})
    with OllamaClient("http://sim", transport=wire.transport()) as client:
        assert client.load(MODEL, keep_alive=-1).done_reason == "load"
        assert client.unload(MODEL).done_reason == "unload"
    assert wire.body(0) == {"model": MODEL, "stream": False, "prompt": "", "keep_alive": -1}
    assert wire.body(1) == {"model": MODEL, "stream": False, "prompt": "", "keep_alive": 0}


def test_stream_chat_ndjson() -> None:
    lines = [
        {
            "model": MODEL,
            "created_at": "t",
            "message": {"role": "assistant", "content": "Hel"},
            "done": False,
        },
        {"model": MODEL, "created_at": "t", "message": {"role": "assistant", "content": "lo"}, "done": False},
        {"model": MODEL, "created_at": "t", "message": {"role": "assistant", "content": ""}, **FINAL},
    ]
    wire = Recorder({"POST /api/chat": lambda r: httpx.Response(200, content=chunked(ndjson(lines), 5))})
    with OllamaClient("http://sim", transport=wire.transport()) as client:
        with client.stream_chat(MODEL, MSGS, options={"num_predict": 2}) as stream:
            chunks = list(stream)
    result = stream.result
    assert wire.body()["stream"] is True
    assert chunks[-1].load_duration_ns == 1_000_000
    assert (result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens) == (
        "Hello",
        "stop",
        11,
        2,
    )
    assert result.chunks == 2
    assert result.timing.ttft_ms is not None
    assert result.timing.tpot_ms(result.completion_tokens) is not None


def test_stream_generate_error_line_mid_stream() -> None:
    lines = [
        {"model": MODEL, "created_at": "t", "response": "a", "done": False},
        {"error": "llama runner crashed"},
    ]
    wire = Recorder({"POST /api/generate": httpx.Response(200, content=ndjson(lines))})
    with OllamaClient("http://sim", transport=wire.transport()) as client:
        with pytest.raises(ServerStreamError) as info, client.stream_generate(MODEL, "x") as stream:
            stream.collect()
    assert info.value.server_message == "llama runner crashed"
    assert info.value.status == 500


def test_stream_without_done_is_interrupted() -> None:
    lines = [{"model": MODEL, "created_at": "t", "response": "a", "done": False}]
    wire = Recorder({"POST /api/generate": httpx.Response(200, content=ndjson(lines))})
    with OllamaClient("http://sim", transport=wire.transport()) as client:
        with pytest.raises(StreamInterrupted), client.stream_generate(MODEL, "x") as stream:
            stream.collect()


def test_stream_404_before_streaming() -> None:
    wire = Recorder({"POST /api/chat": httpx.Response(404, json={"error": f"model '{MODEL}' not found"})})
    with OllamaClient("http://sim", transport=wire.transport()) as client:
        with pytest.raises(ServerHTTPError) as info, client.stream_chat(MODEL, MSGS):
            pass
    assert info.value.server_message == f"model '{MODEL}' not found"


def test_openai_door_uses_same_server() -> None:
    models = {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 1, "owned_by": "library"}],
    }
    wire = Recorder({"GET /v1/models": httpx.Response(200, json=models)})
    with OllamaClient("http://sim:11434", transport=wire.transport()) as client:
        cards = client.openai().models()
    assert cards[0].id == MODEL
    assert cards[0].max_model_len is None
    assert str(wire.requests[0].url) == "http://sim:11434/v1/models"


async def test_async_ollama_stream_generate() -> None:
    lines = [
        {"model": MODEL, "created_at": "t", "response": "x", "done": False},
        {"model": MODEL, "created_at": "t", "response": "", **FINAL},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=ndjson(lines))

    async with AsyncOllamaClient("http://sim", transport=httpx.MockTransport(handler)) as client:
        async with client.stream_generate(MODEL, "p") as stream:
            result = await stream.collect()
    assert result.text == "x"
    assert result.completion_tokens == 2


def test_embed_both_apis() -> None:
    wire = Recorder(
        {
            "POST /api/embed": httpx.Response(200, json={"model": MODEL, "embeddings": [[0.1, 0.2], [0.3, 0.4]]}),
            "POST /v1/embeddings": httpx.Response(
                200,
                json={
                    "object": "list",
                    "model": MODEL,
                    "data": [{"object": "embedding", "index": 0, "embedding": [0.5]}],
                },
            ),
        }
    )
    with OllamaClient("http://sim", transport=wire.transport()) as client:
        native = client.embed(MODEL, ["a", "b"])
        compat = client.openai().embeddings(MODEL, "a")
    assert native.embeddings == [[0.1, 0.2], [0.3, 0.4]]
    assert compat.data[0].embedding == [0.5]
    assert wire.body(0) == {"model": MODEL, "input": ["a", "b"]}
