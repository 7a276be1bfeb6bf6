"""OpenAIClient against canned vLLM answers on an httpx.MockTransport."""

from __future__ import annotations

import httpx
import pytest
from servers_wire import Recorder, chunked, sse

from o2v.errors import ServerError, ServerStreamError, StreamInterrupted
from o2v.servers import AsyncOpenAIClient, OpenAIClient

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct"
MSGS = [{"role": "user", "content": "hi"}]


def _chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


CHAT_STREAM = sse(
    [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hel"}),
        _chunk({"content": "lo"}),
        _chunk({"content": ""}, finish="stop"),
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": MODEL,
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        },
    ]
)


def test_base_url_is_normalised_and_key_sent() -> None:
    card = {
        "id": MODEL,
        "object": "model",
        "created": 1,
        "owned_by": "vllm",
        "root": MODEL,
        "parent": None,
        "max_model_len": 8192,
        "permission": [{"id": "p"}],
    }
    wire = Recorder({"GET /v1/models": httpx.Response(200, json={"object": "list", "data": [card]})})
    with OpenAIClient("http://sim:8000/v1/ ", api_key="sk-test", transport=wire.transport()) as client:
        assert client.base_url == "http://sim:8000"
        models = client.models()
        assert client.model(MODEL).max_model_len == 8192
        with pytest.raises(ServerError, match="serves: meta-llama"):
            client.model("other")
    assert models[0].max_model_len == 8192
    assert models[0].owned_by == "vllm"
    assert str(wire.requests[0].url) == "http://sim:8000/v1/models"
    assert wire.requests[0].headers["authorization"] == "Bearer sk-test"


def test_no_key_no_auth_header() -> None:
    wire = Recorder({"GET /health": httpx.Response(200)})
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        client.health()
    assert "authorization" not in wire.requests[0].headers


def test_health_version_tokenize() -> None:
    wire = Recorder(
        {
            "GET /health": httpx.Response(200),
            "GET /version": httpx.Response(200, json={"version": "0.11.0"}),
            "POST /tokenize": httpx.Response(
                200, json={"count": 3, "max_model_len": 8192, "tokens": [1, 2, 3]}
            ),
        }
    )
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        assert client.is_healthy()
        assert client.version() == "0.11.0"
        result = client.tokenize(MODEL, "a b c")
        client.tokenize(MODEL, messages=MSGS)
    assert (result.count, result.max_model_len, result.tokens) == (3, 8192, [1, 2, 3])
    assert wire.body(-2) == {"model": MODEL, "prompt": "a b c"}
    assert wire.body(-1) == {"model": MODEL, "messages": MSGS}


def test_health_503_is_not_healthy() -> None:
    wire = Recorder({"GET /health": httpx.Response(503)})
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        assert not client.is_healthy()


def test_chat_non_streaming_body_and_answer() -> None:
    answer = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    wire = Recorder({"POST /v1/chat/completions": httpx.Response(200, json=answer)})
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        result = client.chat(MODEL, MSGS, max_tokens=16, temperature=0.0, seed=7, extra={"top_p": 0.9})
    assert result.text == "Hello"
    assert result.usage is not None
    assert result.usage.completion_tokens == 1
    assert wire.body() == {
        "model": MODEL,
        "stream": False,
        "messages": MSGS,
        "max_tokens": 16,
        "temperature": 0.0,
        "seed": 7,
        "top_p": 0.9,
    }


def test_stream_chat_collects_text_usage_and_timing() -> None:
    wire = Recorder(
        {"POST /v1/chat/completions": lambda r: httpx.Response(200, content=chunked(CHAT_STREAM))}
    )
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        with client.stream_chat(MODEL, MSGS, max_tokens=2) as stream:
            chunks = list(stream)
        result = stream.result
    assert len(chunks) == 5
    assert wire.body()["stream_options"] == {"include_usage": True}
    assert (result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens) == (
        "Hello",
        "stop",
        5,
        2,
    )
    assert result.chunks == 2
    assert result.timing.events == 5
    timing = result.timing
    assert timing.first_byte_s is not None
    assert timing.first_token_s is not None
    assert timing.last_s is not None
    assert 0 <= timing.first_byte_s <= timing.first_token_s <= timing.last_s
    assert len(timing.chunk_s) == 2
    assert len(timing.itl_ms) == 1


def test_stream_without_usage_option() -> None:
    wire = Recorder(
        {"POST /v1/chat/completions": httpx.Response(200, content=sse([_chunk({"content": "x"}, "length")]))}
    )
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        with client.stream_chat(MODEL, MSGS, include_usage=False) as stream:
            result = stream.collect()
    assert "stream_options" not in wire.body()
    assert result.completion_tokens is None
    assert result.finish_reason == "length"


def test_stream_complete_text() -> None:
    parts = [
        {
            "id": "c",
            "object": "text_completion",
            "created": 1,
            "model": MODEL,
            "choices": [{"index": 0, "text": t, "finish_reason": f}],
        }
        for t, f in (("a", None), ("b", "stop"))
    ]
    wire = Recorder({"POST /v1/completions": httpx.Response(200, content=sse(parts))})
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        with client.stream_complete(MODEL, "say ab") as stream:
            result = stream.collect()
    assert wire.body()["prompt"] == "say ab"
    assert result.text == "ab"
    assert result.finish_reason == "stop"


def test_error_inside_stream_raises_with_message_and_code() -> None:
    error = {"error": {"message": "engine died", "type": "InternalServerError", "param": None, "code": 500}}
    body = sse([_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hi"}), error])
    wire = Recorder({"POST /v1/chat/completions": httpx.Response(200, content=body)})
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        with pytest.raises(ServerStreamError) as info, client.stream_chat(MODEL, MSGS) as stream:
            stream.collect()
    assert (info.value.status, info.value.server_message) == (500, "engine died")
    assert stream.timing.last_s is not None
    assert stream.timing.first_token_s is not None


def test_old_flat_error_inside_stream() -> None:
    error = {"object": "error", "message": "old shape", "type": "BadRequestError", "param": None, "code": 400}
    wire = Recorder({"POST /v1/chat/completions": httpx.Response(200, content=sse([error]))})
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        with pytest.raises(ServerStreamError, match="old shape"), client.stream_chat(MODEL, MSGS) as stream:
            stream.collect()


def test_truncated_stream_is_interrupted() -> None:
    body = sse([_chunk({"content": "Hel"})], done=False)
    wire = Recorder({"POST /v1/chat/completions": httpx.Response(200, content=body)})
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        with (
            pytest.raises(StreamInterrupted, match="after 1 text chunk"),
            client.stream_chat(MODEL, MSGS) as s,
        ):
            s.collect()


def test_stream_http_error_before_streaming() -> None:
    body = {
        "error": {"message": "maximum context length is 10 tokens", "type": "BadRequestError", "code": 400}
    }
    wire = Recorder({"POST /v1/chat/completions": httpx.Response(400, json=body)})
    with OpenAIClient("http://sim", transport=wire.transport()) as client:
        with pytest.raises(ServerError, match="maximum context length") as info:
            client.stream_chat(MODEL, MSGS).__enter__()
    assert getattr(info.value, "status", None) == 400


def test_stream_used_without_with_is_a_clear_error() -> None:
    with OpenAIClient("http://sim", transport=Recorder({}).transport()) as client:
        with pytest.raises(RuntimeError, match="context manager"):
            list(client.stream_chat(MODEL, MSGS))


def test_sse_comments_and_multiline_data_are_handled() -> None:
    body = (
        b': keep-alive\n\nevent: message\ndata: {"choices":[{"index":0,"delta":{"content":"A"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    wire = Recorder({"POST /v1/chat/completions": httpx.Response(200, content=body)})
    with (
        OpenAIClient("http://sim", transport=wire.transport()) as client,
        client.stream_chat(MODEL, MSGS) as s,
    ):
        assert s.collect().text == "A"


async def test_async_client_streams_and_reads_metrics() -> None:
    metrics = '# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="m"} 4.0\n'

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/metrics":
            return httpx.Response(200, text=metrics)
        return httpx.Response(200, content=CHAT_STREAM)

    async with AsyncOpenAIClient("http://sim/v1", transport=httpx.MockTransport(handler)) as client:
        async with client.stream_chat(MODEL, MSGS) as stream:
            texts = [c.choices[0].delta.content async for c in stream if c.choices]
        assert (await client.metrics()).num_requests_waiting == 4.0
    assert "".join(t or "" for t in texts) == "Hello"
    assert stream.result.completion_tokens == 2
