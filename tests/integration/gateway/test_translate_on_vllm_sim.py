"""Translated native requests sent over real HTTP to the project's vLLM simulator, its answers translated back.

The simulator validates requests as vLLM does (``stream_options`` only with ``stream``, ``max_tokens`` a
non-negative integer or null), so a body vLLM would refuse fails here before it reaches a real server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from o2v.gateway.translate import NativeCall, NativeStream, native_reply, translate_chat, translate_generate
from o2v.servers.ollama_types import ChatResponse, GenerateResponse
from o2v.simulate.process import SimulatorProcess

SERVED = "meta-llama/Meta-Llama-3.1-8B-Instruct"
FAST = ["--ttft-ms", "1", "--itl-ms", "1", "--prompt-token-ms", "0", "--response-tokens", "40"]  # 30 to 50 tokens


@pytest.fixture(scope="module")
def vllm() -> Iterator[httpx.Client]:
    with SimulatorProcess("vllm", args=FAST) as sim, httpx.Client(base_url=sim.url, timeout=30) as client:
        yield client


def streamed(client: httpx.Client, call: NativeCall, kind: str) -> list[dict[str, Any]]:
    stream = NativeStream(kind, "llama3.1:8b")  # type: ignore[arg-type]
    lines: list[bytes] = []
    with client.stream("POST", call.path, json=call.body) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            data = line.removeprefix("data:").strip()
            if data and data != "[DONE]":
                lines.extend(stream.feed(json.loads(data)))
    lines.append(stream.finish())
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("num_predict", [None, 5])
def test_chat_stream(vllm: httpx.Client, num_predict: int | None) -> None:
    options = {"temperature": 0.2, "num_ctx": 4096} | ({"num_predict": num_predict} if num_predict else {})
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}], "options": options}
    objs = streamed(vllm, translate_chat(body, SERVED), "chat")
    parsed = [ChatResponse.model_validate(o) for o in objs]
    final = parsed[-1]
    assert final.done is True
    assert all(not p.done for p in parsed[:-1])
    assert final.eval_count == len(parsed) - 1
    assert final.eval_count == num_predict if num_predict else final.eval_count >= 30
    assert final.done_reason == ("length" if num_predict else "stop")
    assert final.prompt_eval_count is not None
    assert final.prompt_eval_count > 0


def test_raw_generate_stream(vllm: httpx.Client) -> None:
    body = {"model": "llama3.1:8b", "prompt": "<|begin_of_text|>Once", "raw": True}
    objs = streamed(vllm, translate_generate(body, SERVED), "generate")
    final = GenerateResponse.model_validate(objs[-1])
    assert final.eval_count is not None
    assert final.eval_count >= 30
    assert final.eval_count == len(objs) - 1


def test_whole_chat_reply(vllm: httpx.Client) -> None:
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    call = translate_chat(body, SERVED)
    started = time.monotonic_ns()
    answer = vllm.post(call.path, json=call.body)
    assert answer.status_code == 200, answer.text
    reply = native_reply("chat", answer.json(), "llama3.1:8b", time.monotonic_ns() - started)
    parsed = ChatResponse.model_validate(reply)
    assert parsed.message.content
    assert parsed.eval_count is not None
    assert parsed.eval_count >= 30
    assert parsed.total_duration_ns is not None
    assert parsed.total_duration_ns > 0


def test_generate_through_chat(vllm: httpx.Client) -> None:
    body = {"model": "llama3.1:8b", "prompt": "Why?", "system": "Be brief.", "options": {"seed": 7, "top_k": 0}}
    objs = streamed(vllm, translate_generate(body, SERVED), "generate")
    assert objs[-1]["done"] is True
    assert "".join(o["response"] for o in objs[:-1])
