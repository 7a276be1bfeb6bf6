"""The NDJSON the translation writes, read back by the project's Ollama client and by the official ``ollama`` SDK.

The bytes travel over an ``httpx.MockTransport`` in small pieces, so both clients parse them exactly as they
would parse Ollama's own stream (line reassembly, the ``done`` marker, the final metrics, tool calls).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import ollama

from o2v.gateway.translate import NativeStream, native_reply
from o2v.servers import OllamaClient
from o2v.simulate.openai_fmt import OpenAIStream, OpenAIStyle, parse_request

MODEL = "llama3.1:8b"


def parse_sse(data: bytes) -> list[dict[str, Any]]:
    return [
        json.loads(block.removeprefix("data: "))
        for block in data.decode().split("\n\n")
        if block.strip() and block.strip() != "data: [DONE]"
    ]


def simulated_vllm(tokens: int, *, chat: bool) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"model": "served", "stream": True, "stream_options": {"include_usage": True}}
    body.update({"messages": [{"role": "user", "content": "hi"}]} if chat else {"prompt": "hi"})
    out = OpenAIStream(OpenAIStyle("vllm"), parse_request(body, chat=chat), "served")
    return parse_sse((out.first() or b"") + b"".join(out.token(i) for i in range(tokens)) + out.finish("stop", tokens))


def translated(kind: str, events: list[dict[str, Any]]) -> bytes:
    stream = NativeStream(kind, MODEL)  # type: ignore[arg-type]
    return b"".join(line for event in events for line in stream.feed(event)) + stream.finish()


def serving(path: str, body: bytes) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == path
        pieces = [body[i : i + 13] for i in range(0, len(body), 13)]
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=iter(pieces))

    return httpx.MockTransport(handler)


def expected_text(events: list[dict[str, Any]], part: Callable[[dict[str, Any]], str]) -> str:
    return "".join(part(choice) for e in events for choice in e["choices"])


def test_project_client_reads_a_translated_chat_stream() -> None:
    events = simulated_vllm(12, chat=True)
    client = OllamaClient("http://gateway", transport=serving("/api/chat", translated("chat", events)))
    with client.stream_chat(MODEL, [{"role": "user", "content": "hi"}]) as stream:
        result = stream.collect()
    assert result.text == expected_text(events, lambda c: c["delta"].get("content") or "")
    assert result.finish_reason == "stop"
    assert result.completion_tokens == 12
    assert result.prompt_tokens == events[-1]["usage"]["prompt_tokens"]
    assert result.chunks == 12


def test_project_client_reads_a_translated_generate_stream() -> None:
    events = simulated_vllm(7, chat=False)
    client = OllamaClient("http://gateway", transport=serving("/api/generate", translated("generate", events)))
    with client.stream_generate(MODEL, "hi") as stream:
        result = stream.collect()
    assert result.text == expected_text(events, lambda c: c.get("text") or "")
    assert result.completion_tokens == 7


def test_official_sdk_reads_a_translated_chat_stream_with_thinking_and_tools() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning": "The user wants weather."}),
        chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]}),
        chunk({}, "tool_calls"),
        {"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 9}},
    ]
    client = ollama.Client(host="http://gateway", transport=serving("/api/chat", translated("chat", events)))
    parts = list(client.chat(MODEL, messages=[{"role": "user", "content": "weather?"}], stream=True))
    assert parts[0].message.thinking == "The user wants weather."
    calls = parts[1].message.tool_calls
    assert calls is not None
    assert calls[0].function.name == "get_weather"
    assert calls[0].function.arguments == {"city": "Paris"}
    final = parts[-1]
    assert final.done is True
    assert final.done_reason == "stop"
    assert (final.prompt_eval_count, final.eval_count) == (20, 9)
    assert final.total_duration is not None
    assert final.total_duration >= 0
    assert final.created_at is not None


def test_official_sdk_reads_a_translated_whole_generate_reply() -> None:
    vllm_body = {
        "object": "text_completion",
        "choices": [{"index": 0, "text": "Rayleigh scattering.", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 6, "completion_tokens": 4, "total_tokens": 10},
    }
    reply = native_reply("generate", vllm_body, MODEL, elapsed_ns=123_000_000)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=reply)

    client = ollama.Client(host="http://gateway", transport=httpx.MockTransport(handler))
    answer = client.generate(MODEL, "Why is the sky blue?", stream=False)
    assert answer.response == "Rayleigh scattering."
    assert answer.done is True
    assert answer.eval_count == 4
    assert answer.total_duration == 123_000_000
