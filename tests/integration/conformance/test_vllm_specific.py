"""What only vLLM has: health, version, tokenize, typed /metrics, --api-key, the context-length 400,
old error and metric names."""

from __future__ import annotations

import httpx
import pytest

from o2v.errors import ServerHTTPError
from o2v.servers import OpenAIClient
from o2v.simulate.process import SimulatorProcess

from .sims import API_KEY, VLLM_MAX_LEN, VLLM_MODEL

MSGS = [{"role": "user", "content": "hello"}]


def test_health_version_tokenize(vllm_sim: SimulatorProcess) -> None:
    with OpenAIClient(vllm_sim.url) as client:
        client.health()
        assert client.version()
        tokens = client.tokenize(VLLM_MODEL, "hello world")
        chat_tokens = client.tokenize(VLLM_MODEL, messages=MSGS)
    assert tokens.count == len(tokens.tokens) > 0
    assert tokens.max_model_len == VLLM_MAX_LEN
    assert chat_tokens.count > 0


def test_metrics_count_what_we_sent(vllm_sim: SimulatorProcess) -> None:
    with OpenAIClient(vllm_sim.url) as client:
        before = client.metrics()
        for _ in range(3):
            client.chat(VLLM_MODEL, MSGS, max_tokens=4)
        after = client.metrics(model_name=VLLM_MODEL)
    assert after.model_names == [VLLM_MODEL]
    assert after.num_requests_running == 0
    assert after.kv_cache_usage_fraction is not None
    assert before.generation_tokens_total is not None
    assert after.generation_tokens_total == before.generation_tokens_total + 12
    assert after.ttft_seconds is not None
    assert before.ttft_seconds is not None
    assert after.ttft_seconds.minus(before.ttft_seconds).count == 3
    assert after.e2e_request_latency_seconds is not None
    assert after.inter_token_latency_seconds is not None


def test_prompt_too_long_is_400(vllm_sim: SimulatorProcess) -> None:
    long = [{"role": "user", "content": "word " * (VLLM_MAX_LEN + 10)}]
    with OpenAIClient(vllm_sim.url) as client, pytest.raises(ServerHTTPError) as info:
        client.chat(VLLM_MODEL, long, max_tokens=4)
    assert info.value.status == 400
    assert info.value.server_message.startswith("You passed ")
    assert f"maximum input length of {VLLM_MAX_LEN - 4} tokens" in info.value.server_message


def test_stream_options_without_stream_is_400(vllm_sim: SimulatorProcess) -> None:
    with OpenAIClient(vllm_sim.url) as client, pytest.raises(ServerHTTPError) as info:
        client.chat(VLLM_MODEL, MSGS, extra={"stream_options": {"include_usage": True}})
    assert info.value.status == 400


def test_api_key_guards_v1_only(vllm_auth_sim: SimulatorProcess) -> None:
    with OpenAIClient(vllm_auth_sim.url) as anonymous, pytest.raises(ServerHTTPError) as info:
        anonymous.models()
    assert (info.value.status, info.value.server_message) == (401, "Unauthorized")
    with OpenAIClient(vllm_auth_sim.url) as anonymous:
        anonymous.health()  # never protected
        assert anonymous.metrics().num_requests_running is not None
    with OpenAIClient(vllm_auth_sim.url, api_key=API_KEY) as client:
        assert [c.id for c in client.models()] == ["team-llm"]
        assert client.chat("team-llm", MSGS, max_tokens=2).model == "team-llm"


def test_legacy_error_shape_and_metric_names(vllm_auth_sim: SimulatorProcess) -> None:
    raw = httpx.post(
        vllm_auth_sim.url + "/v1/chat/completions",
        json={"model": "nope", "messages": MSGS},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert raw.json().get("object") == "error"  # the flat pre-Aug-2025 shape
    too_long = httpx.post(
        vllm_auth_sim.url + "/v1/completions",
        json={"prompt": "word " * 9000},
        headers={"authorization": f"bearer {API_KEY}"},  # any capitalisation of the scheme
    ).json()
    assert too_long["message"].startswith("This model's maximum context length is 8192 tokens.")  # older wording
    with OpenAIClient(vllm_auth_sim.url, api_key=API_KEY) as client:
        with pytest.raises(ServerHTTPError) as info:
            client.chat("nope", MSGS, max_tokens=2)
        client.chat("team-llm", MSGS, max_tokens=3)
        metrics = client.metrics()
    assert info.value.status == 404
    assert "nope" in info.value.server_message
    assert "vllm:gpu_cache_usage_perc" in metrics.names_found
    assert metrics.kv_cache_usage_fraction is not None
    assert metrics.inter_token_latency_seconds is not None
