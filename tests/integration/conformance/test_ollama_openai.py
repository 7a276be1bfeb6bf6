"""What only Ollama's /v1 does (openai/openai.go, middleware/openai.go), on the current and an older version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from o2v.servers import OpenAIClient
from o2v.simulate.process import SimulatorProcess

from .sims import FAST, OLLAMA_MODEL, faults

MSGS = [{"role": "user", "content": "Why is the queue long?"}]


@pytest.fixture(scope="module")
def old_ollama_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("ollama", args=[*FAST, "--version-string", "0.11.4"]) as sim:
        yield sim


def _chunks(url: str, **extra: Any) -> list[dict[str, Any]]:
    body = {"model": OLLAMA_MODEL, "messages": MSGS, "stream": True, "max_tokens": 3, **extra}
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=10) as resp:
        assert resp.status_code == 200
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_stream_options_are_never_rejected(ollama_sim: SimulatorProcess) -> None:
    """vLLM answers 400 to stream_options without stream; Ollama ignores them."""
    body = {"model": OLLAMA_MODEL, "messages": MSGS, "max_tokens": 2, "stream_options": {"include_usage": True}}
    resp = httpx.post(ollama_sim.url + "/v1/chat/completions", json=body, timeout=10)
    assert resp.status_code == 200
    assert resp.json()["usage"]["completion_tokens"] == 2
    unknown = _chunks(ollama_sim.url, stream_options={"continuous_usage_stats": True})
    assert all("usage" not in c for c in unknown)  # only include_usage is read, and it was not set


def test_current_stream_names_the_role_once_and_ends_with_an_empty_delta(ollama_sim: SimulatorProcess) -> None:
    chunks = _chunks(ollama_sim.url, stream_options={"include_usage": True})
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert deltas[0]["role"] == "assistant"
    assert all("role" not in d for d in deltas[1:])
    assert [bool(d.get("content")) for d in deltas] == [True, True, True, False]
    finish = chunks[-2]["choices"][0]
    assert (finish["delta"], finish["finish_reason"]) == ({}, "length")
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert {c["system_fingerprint"] for c in chunks} == {"fp_ollama"}


def test_older_stream_names_the_role_in_every_chunk(old_ollama_sim: SimulatorProcess) -> None:
    chunks = _chunks(old_ollama_sim.url)
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in chunks)
    finish = chunks[-1]["choices"][0]
    assert (finish["delta"], finish["finish_reason"]) == ({"role": "assistant", "content": ""}, "length")


def test_the_projects_client_reads_both_framings(ollama_sim: SimulatorProcess,
                                                 old_ollama_sim: SimulatorProcess) -> None:  # fmt: skip
    texts = []
    for sim in (ollama_sim, old_ollama_sim):
        with OpenAIClient(sim.url) as client, client.stream_chat(OLLAMA_MODEL, MSGS, max_tokens=4, seed=3) as s:
            result = s.collect()
        assert (result.completion_tokens, result.finish_reason, result.chunks) == (4, "length", 4)
        texts.append(result.text)
    assert texts[0] == texts[1]


@pytest.mark.parametrize(("status", "kind"), [(500, "api_error"), (503, "api_error"), (429, "api_error"),
                                              (400, "invalid_request_error")])  # fmt: skip
def test_error_types_follow_the_status(ollama_sim: SimulatorProcess, status: int, kind: str) -> None:
    body = {"model": OLLAMA_MODEL, "messages": MSGS, "max_tokens": 2}
    with faults(ollama_sim.url, error_rate=1.0, error_status=status):
        resp = httpx.post(ollama_sim.url + "/v1/chat/completions", json=body, timeout=10)
    assert resp.status_code == status
    error = resp.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (kind, None, None)


def test_unknown_model_is_not_found_error(ollama_sim: SimulatorProcess) -> None:
    resp = httpx.post(ollama_sim.url + "/v1/chat/completions", json={"model": "nope", "messages": MSGS}, timeout=10)
    assert (resp.status_code, resp.json()["error"]["type"]) == (404, "not_found_error")
