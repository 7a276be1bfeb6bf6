"""vLLM SSE events -> Ollama NDJSON lines: content, thinking, tool-call deltas, finish, usage, durations."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from o2v.gateway.translate import NativeStream
from o2v.simulate.openai_fmt import OpenAIStream, OpenAIStyle, parse_request

MODEL = "llama3.1:8b"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def ticking(start: int = 1_000, step: int = 1_000_000) -> Callable[[], int]:
    """A fake monotonic clock: every reading is ``step`` ns after the previous one."""
    counter: Iterator[int] = iter(range(start, 1 << 62, step))
    return lambda: next(counter)


def parse_sse(data: bytes) -> list[dict[str, Any]]:
    events = []
    for block in data.decode().split("\n\n"):
        payload = block.removeprefix("data: ").strip()
        if payload and payload != "[DONE]":
            events.append(json.loads(payload))
    return events


def vllm_events(*, chat: bool, tokens: int, reason: str = "stop", include_usage: bool = True) -> list[dict[str, Any]]:
    """The events the project's vLLM simulator writes for one streamed answer (its byte-exact chunk templates)."""
    body: dict[str, Any] = {"model": "served", "stream": True}
    if chat:
        body["messages"] = [{"role": "user", "content": "hello there"}]
    else:
        body["prompt"] = "hello there"
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    out = OpenAIStream(OpenAIStyle("vllm"), parse_request(body, chat=chat), "served")
    data = (out.first() or b"") + b"".join(out.token(i) for i in range(tokens)) + out.finish(reason, tokens)
    return parse_sse(data)


def run(stream: NativeStream, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lines = [line for event in events for line in stream.feed(event)] + [stream.finish()]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    return [json.loads(line) for line in lines]


def test_chat_stream_from_the_vllm_simulator() -> None:
    events = vllm_events(chat=True, tokens=5)
    objs = run(NativeStream("chat", MODEL, clock=ticking()), events)
    body, final = objs[:-1], objs[-1]
    assert len(body) == 5  # the empty role-only first chunk and the finish chunk make no line
    for obj in body:
        assert list(obj) == ["model", "created_at", "message", "done"]
        assert obj["model"] == MODEL
        assert RFC3339.match(obj["created_at"])
        assert obj["message"]["role"] == "assistant"
        assert obj["message"]["content"]
        assert obj["done"] is False
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    assert "".join(o["message"]["content"] for o in body) == text
    assert list(final) == [
        "model",
        "created_at",
        "message",
        "done",
        "done_reason",
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ]
    assert final["message"] == {"role": "assistant", "content": ""}
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    usage = events[-1]["usage"]
    assert final["prompt_eval_count"] == usage["prompt_tokens"]
    assert final["eval_count"] == usage["completion_tokens"] == 5


def test_generate_stream_from_completions_chunks() -> None:
    events = vllm_events(chat=False, tokens=4, reason="length")
    objs = run(NativeStream("generate", MODEL, clock=ticking()), events)
    assert [list(o) for o in objs[:-1]] == [["model", "created_at", "response", "done"]] * 4
    final = objs[-1]
    assert final["response"] == ""
    assert "context" not in final  # no invented token ids
    assert final["done_reason"] == "length"
    assert final["eval_count"] == 4


def test_generate_stream_from_chat_chunks_writes_response() -> None:
    # /api/generate without raw goes to vLLM's chat endpoint: chat chunks, generate lines.
    objs = run(NativeStream("generate", MODEL, clock=ticking()), vllm_events(chat=True, tokens=3))
    assert all("response" in o and "message" not in o for o in objs)
    assert "".join(o["response"] for o in objs)


def test_durations_are_nanoseconds_from_the_clock() -> None:
    clock = ticking(start=5_000, step=10_000_000)  # 10 ms per reading
    stream = NativeStream("chat", MODEL, clock=clock)  # reading 0: request sent
    events = vllm_events(chat=True, tokens=3)
    for event in events:
        stream.feed(event)  # reading 1: first token
    final = json.loads(stream.finish())  # reading 2: end
    assert final["prompt_eval_duration"] == 10_000_000
    assert final["eval_duration"] == 10_000_000
    assert final["total_duration"] == 20_000_000
    assert final["load_duration"] == 0
    assert final["total_duration"] == final["prompt_eval_duration"] + final["eval_duration"]


def test_durations_with_the_real_clock_are_consistent() -> None:
    objs = run(NativeStream("chat", MODEL), vllm_events(chat=True, tokens=8))
    final = objs[-1]
    for key in ("total_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(final[key], int)
        assert final[key] >= 0
    assert final["total_duration"] == final["prompt_eval_duration"] + final["eval_duration"]


def test_created_at_follows_the_wall_clock_with_nanoseconds() -> None:
    walls = iter([1_736_935_200_123_456_789, 1_736_935_200_500_000_000, 1_736_935_201_000_000_000])
    stream = NativeStream("chat", MODEL, clock=ticking(), wall_clock=lambda: next(walls))
    first = json.loads(stream.feed(chunk(content="a"))[0])
    second = json.loads(stream.feed(chunk(content="b"))[0])
    final = json.loads(stream.finish())
    assert first["created_at"] == "2025-01-15T10:00:00.123456789Z"
    assert second["created_at"] == "2025-01-15T10:00:00.5Z"  # trailing zeros cut, as Go prints RFC3339Nano
    assert final["created_at"] == "2025-01-15T10:00:01Z"


def chunk(
    *,
    content: str | None = None,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str | None = None,
    key: str = "reasoning",
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta[key] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "served",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "served",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


@pytest.mark.parametrize("key", ["reasoning", "reasoning_content"])
def test_reasoning_becomes_thinking(key: str) -> None:
    events = [
        chunk(content="", key=key),
        chunk(reasoning="Let me", key=key),
        chunk(reasoning=" think.", key=key),
        chunk(content="42"),
        chunk(content="", finish="stop"),
        usage(10, 4),
    ]
    objs = run(NativeStream("chat", MODEL, clock=ticking()), events)
    assert [o["message"] for o in objs[:-1]] == [
        {"role": "assistant", "content": "", "thinking": "Let me"},
        {"role": "assistant", "content": "", "thinking": " think."},
        {"role": "assistant", "content": "42"},
    ]
    gen = run(NativeStream("generate", MODEL, clock=ticking()), events)
    assert gen[0] == {**gen[0], "response": "", "thinking": "Let me"}
    assert list(gen[0]) == ["model", "created_at", "response", "thinking", "done"]


def tool_delta(index: int, *, ident: str | None = None, name: str | None = None, args: str | None = None) -> dict:
    delta: dict[str, Any] = {"index": index}
    if ident:
        delta.update({"id": ident, "type": "function"})
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if args is not None:
        function["arguments"] = args
    delta["function"] = function
    return delta


def tool_events() -> list[dict[str, Any]]:
    """Two parallel calls as vLLM's tool parsers stream them: name first, then argument fragments."""
    return [
        chunk(content=""),
        chunk(tool_calls=[tool_delta(0, ident="chatcmpl-tool-a1", name="get_weather", args="")]),
        chunk(tool_calls=[tool_delta(0, args='{"city": ')]),
        chunk(tool_calls=[tool_delta(0, args='"Paris", "days": 2}')]),
        chunk(tool_calls=[tool_delta(1, ident="chatcmpl-tool-b2", name="get_time")]),
        chunk(tool_calls=[tool_delta(1, args='{"tz": "CET"}')]),
        chunk(content="", finish="tool_calls"),
        usage(50, 30),
    ]


EXPECTED_CALLS = [
    {
        "id": "chatcmpl-tool-a1",
        "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris", "days": 2}},
    },
    {"id": "chatcmpl-tool-b2", "function": {"index": 1, "name": "get_time", "arguments": {"tz": "CET"}}},
]


def test_tool_call_deltas_are_gathered_and_sent_whole() -> None:
    objs = run(NativeStream("chat", MODEL, clock=ticking()), tool_events())
    assert len(objs) == 2
    assert objs[0]["message"] == {"role": "assistant", "content": "", "tool_calls": EXPECTED_CALLS}
    assert objs[0]["done"] is False
    assert objs[1]["done_reason"] == "stop"  # Ollama says stop when the answer is tool calls
    assert objs[1]["eval_count"] == 30
    assert objs[1]["prompt_eval_duration"] > 0  # the first tool delta counts as the first token


def test_tool_calls_still_open_at_the_end_go_in_the_final_line() -> None:
    events = [e for e in tool_events() if not (e["choices"] and e["choices"][0]["finish_reason"])]
    objs = run(NativeStream("chat", MODEL, clock=ticking()), events)
    assert len(objs) == 1
    assert objs[0]["message"]["tool_calls"] == EXPECTED_CALLS
    assert objs[0]["done"] is True


def test_generate_tool_calls_come_after_done_like_ollamas_struct() -> None:
    objs = run(NativeStream("generate", MODEL, clock=ticking()), tool_events())
    assert list(objs[0]) == ["model", "created_at", "response", "done", "tool_calls"]
    assert objs[0]["tool_calls"] == EXPECTED_CALLS


def test_a_tool_call_with_empty_arguments_has_an_empty_object() -> None:
    events = [chunk(tool_calls=[tool_delta(0, ident="c1", name="now", args="")]), chunk(finish="tool_calls")]
    objs = run(NativeStream("chat", MODEL, clock=ticking()), events)
    assert objs[0]["message"]["tool_calls"] == [{"id": "c1", "function": {"index": 0, "name": "now", "arguments": {}}}]


@pytest.mark.parametrize("args", ['{"city": "Par', "[1, 2]"])
def test_tool_arguments_that_are_not_an_object_end_the_stream_with_an_error_line(args: str) -> None:
    stream = NativeStream("chat", MODEL, clock=ticking())
    stream.feed(chunk(tool_calls=[tool_delta(0, ident="c1", name="f", args=args)]))
    lines = stream.feed(chunk(finish="tool_calls"))
    assert stream.failed is True
    assert len(lines) == 1
    assert "not a JSON object" in json.loads(lines[0])["error"]
    assert stream.finish() == lines[0]


def test_bad_tool_arguments_found_at_finish_are_an_error_line() -> None:
    stream = NativeStream("chat", MODEL, clock=ticking())
    stream.feed(chunk(tool_calls=[tool_delta(0, ident="c1", name="f", args="{oops")]))
    final = json.loads(stream.finish())
    assert list(final) == ["error"]
    assert stream.failed is True


def test_without_usage_eval_count_is_the_delta_count_and_prompt_count_is_left_out() -> None:
    events = vllm_events(chat=True, tokens=6, include_usage=False)
    final = run(NativeStream("chat", MODEL, clock=ticking()), events)[-1]
    assert final["eval_count"] == 6
    assert "prompt_eval_count" not in final


def test_continuous_usage_keeps_the_last_figures() -> None:
    events = [chunk(content="a"), chunk(content="b"), chunk(finish="stop")]
    for n, event in enumerate(events):
        event["usage"] = {"prompt_tokens": 9, "completion_tokens": min(n + 1, 2), "total_tokens": 9 + min(n + 1, 2)}
    final = run(NativeStream("chat", MODEL, clock=ticking()), events)[-1]
    assert (final["prompt_eval_count"], final["eval_count"]) == (9, 2)


@pytest.mark.parametrize(
    ("finish", "reason"), [("stop", "stop"), ("length", "length"), ("abort", "abort"), (None, "stop")]
)
def test_done_reason(finish: str | None, reason: str) -> None:
    events = [chunk(content="x"), chunk(finish=finish)]
    assert run(NativeStream("chat", MODEL, clock=ticking()), events)[-1]["done_reason"] == reason


def test_an_empty_stream_still_ends_with_a_done_line() -> None:
    final = json.loads(NativeStream("chat", MODEL, clock=ticking()).finish())
    assert final["done"] is True
    assert final["eval_count"] == 0
    assert final["eval_duration"] == 0
    assert final["prompt_eval_duration"] == final["total_duration"]


def test_an_error_event_becomes_ollamas_error_line() -> None:
    stream = NativeStream("chat", MODEL, clock=ticking())
    stream.feed(chunk(content="par"))
    error = {"error": {"message": "The engine died.", "type": "InternalServerError", "param": None, "code": 500}}
    assert stream.feed(error) == [b'{"error":"The engine died."}\n']
    assert stream.failed is True
    assert stream.finish() == b'{"error":"The engine died."}\n'
    legacy = {
        "object": "error",
        "message": "Old engine died.",
        "type": "InternalServerError",
        "param": None,
        "code": 500,
    }
    assert NativeStream("chat", MODEL).feed(legacy) == [b'{"error":"Old engine died."}\n']


def test_other_choices_are_not_mixed_in() -> None:
    event = chunk(content="a")
    event["choices"].append({"index": 1, "delta": {"content": "b"}, "finish_reason": None})
    lines = NativeStream("chat", MODEL, clock=ticking()).feed(event)
    assert [json.loads(line)["message"]["content"] for line in lines] == ["a"]


def test_logprobs_ride_on_their_line() -> None:
    event = chunk(content="Hi")
    event["choices"][0]["logprobs"] = {
        "content": [
            {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": [{"token": "Hi", "logprob": -0.1}]}
        ]
    }
    obj = json.loads(NativeStream("chat", MODEL, clock=ticking()).feed(event)[0])
    assert obj["logprobs"] == [
        {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": [{"token": "Hi", "logprob": -0.1}]}
    ]


def test_completion_logprobs_are_reshaped() -> None:
    event = {
        "object": "text_completion",
        "choices": [
            {
                "index": 0,
                "text": " blue",
                "logprobs": {
                    "tokens": [" blue"],
                    "token_logprobs": [-0.5],
                    "top_logprobs": [{" blue": -0.5, " grey": -1.5}],
                },
                "finish_reason": None,
            }
        ],
    }
    obj = json.loads(NativeStream("generate", MODEL, clock=ticking()).feed(event)[0])
    assert obj["logprobs"] == [
        {
            "token": " blue",
            "logprob": -0.5,
            "top_logprobs": [{"token": " blue", "logprob": -0.5}, {"token": " grey", "logprob": -1.5}],
        }
    ]


def test_unicode_is_written_as_utf8() -> None:
    line = NativeStream("chat", MODEL, clock=ticking()).feed(chunk(content="héllo <b> 世界"))[0]
    assert "héllo <b> 世界".encode() in line


def test_the_last_argument_fragment_may_come_with_the_finish_chunk() -> None:
    events = [
        chunk(tool_calls=[tool_delta(0, ident="c1", name="get_weather", args='{"city": "Par')]),
        chunk(tool_calls=[tool_delta(0, args='is"}')], finish="tool_calls"),
    ]
    objs = run(NativeStream("chat", MODEL, clock=ticking()), events)
    assert objs[0]["message"]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}


def test_the_last_token_may_come_with_the_finish_chunk() -> None:
    events = [chunk(content="Hel"), chunk(content="lo", finish="length")]
    objs = run(NativeStream("chat", MODEL, clock=ticking()), events)
    assert [o["message"]["content"] for o in objs] == ["Hel", "lo", ""]
    assert objs[-1]["done_reason"] == "length"


def test_huge_integers_in_tool_arguments_survive() -> None:
    events = [chunk(tool_calls=[tool_delta(0, ident="c1", name="f", args='{"n": 123456789012345678901234567890}')])]
    objs = run(NativeStream("chat", MODEL, clock=ticking()), [*events, chunk(finish="tool_calls")])
    assert objs[0]["message"]["tool_calls"][0]["function"]["arguments"] == {"n": 123456789012345678901234567890}
