"""The vLLM simulator on the wire: auth, models, SSE, length checks, metrics, start-up and faults."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from o2v.simulate.process import SimulatorProcess, free_port

SERVED = ["llama-8b", "team-default"]
AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    args = ["--ttft-ms", "5", "--itl-ms", "1", "--response-tokens", "10", "--api-key", "s3cret",
            "--served-model-name", *SERVED, "--max-model-len", "512"]  # fmt: skip
    with SimulatorProcess("vllm", args=args) as proc:
        yield proc


@pytest.fixture
def client(sim: SimulatorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10, headers=AUTH) as c:
        yield c


def test_api_key_protects_v1_only(sim: SimulatorProcess) -> None:
    for path in ("/v1/models",):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            resp = httpx.get(sim.url + path, headers=headers)
            assert (resp.status_code, resp.json()) == (401, {"error": "Unauthorized"})
    for path in ("/health", "/metrics", "/version"):
        assert httpx.get(sim.url + path).status_code == 200
    assert httpx.post(sim.url + "/tokenize", json={"prompt": "hello world"}).status_code == 200


def test_models_one_card_per_served_name(client: httpx.Client) -> None:
    data = client.get("/v1/models").json()["data"]
    assert [card["id"] for card in data] == SERVED
    assert all(card["max_model_len"] == 512 and card["owned_by"] == "vllm" for card in data)
    assert data[0]["root"] == "meta-llama/Meta-Llama-3.1-8B-Instruct"


def test_stream_shape_and_first_served_name_in_model(client: httpx.Client) -> None:
    body = {"model": "team-default", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = resp.read().decode()
    events = [e[6:] for e in raw.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["model"] == "llama-8b" for c in chunks)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == len(chunks) - 3


def test_non_stream_completion_and_usage(client: httpx.Client) -> None:
    out = client.post("/v1/completions", json={"model": "llama-8b", "prompt": "hi", "max_tokens": 3}).json()
    assert out["object"] == "text_completion"
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize(
    ("body", "status", "err_type", "needle"),
    [
        ({"model": "gpt-4", "prompt": "x"}, 404, "NotFoundError", "The model `gpt-4` does not exist."),
        ({"prompt": "word " * 600}, 400, "BadRequestError", "resulting in a maximum input length of 512 tokens"),
        ({"prompt": "x", "max_tokens": 600}, 400, "BadRequestError", "cannot be greater than max_model_len=512"),
        ({"prompt": "x", "stream_options": {"include_usage": True}}, 400, "BadRequestError", "stream=True"),
        ({"prompt": 5}, 400, "BadRequestError", "prompt"),
    ],
)
def test_errors_have_vllm_shape(client: httpx.Client, body: dict[str, object], status: int, err_type: str,
                                needle: str) -> None:  # fmt: skip
    resp = client.post("/v1/completions", json=body)
    assert resp.status_code == status
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert (err["type"], err["code"]) == (err_type, status)
    assert needle in err["message"]


def test_over_long_prompt_has_the_current_wording(client: httpx.Client) -> None:
    # A 400-word prompt is 401 tokens; 200 output tokens leave 312 for the input. The tokenizer stops one
    # token past that limit, so vLLM reports 313 input tokens.
    err = client.post("/v1/completions", json={"prompt": "word " * 400, "max_tokens": 200}).json()["error"]
    assert err["message"] == (
        "You passed 313 input tokens and requested 200 output tokens. However, the model's context length is "
        "only 512 tokens, resulting in a maximum input length of 312 tokens. Please reduce the length of the "
        "input prompt. (parameter=input_tokens, value=313)"
    )
    assert (err["param"], err["type"], err["code"]) == ("input_tokens", "BadRequestError", 400)


def test_older_versions_keep_the_older_wording() -> None:
    with SimulatorProcess("vllm", args=["--max-model-len", "512", "--version-string", "0.11.0"]) as old:
        err = httpx.post(old.url + "/v1/completions", json={"prompt": "word " * 600}).json()["error"]
    assert err["message"] == (
        "This model's maximum context length is 512 tokens. However, your request has 601 input tokens. "
        "Please reduce the length of the input messages."
    )


def test_any_capitalisation_of_bearer_and_any_of_several_keys() -> None:
    with SimulatorProcess("vllm", args=["--api-key", "first", "second"]) as sim:
        for header in ("Bearer first", "bearer second", "BEARER first"):
            assert httpx.get(sim.url + "/v1/models", headers={"Authorization": header}).status_code == 200
        for header in ("Bearer third", "Basic first", "Bearerfirst", "first"):
            assert httpx.get(sim.url + "/v1/models", headers={"Authorization": header}).status_code == 401


@pytest.mark.parametrize(
    ("options", "usage_chunk"),
    [({}, True), ({"include_usage": True}, True), ({"include_usage": False}, False), (None, False)],
)
def test_stream_options_present_means_usage_by_default(
    client: httpx.Client, options: dict[str, bool] | None, usage_chunk: bool
) -> None:
    body: dict[str, object] = {"prompt": "hi", "max_tokens": 3, "stream": True}
    if options is not None:
        body["stream_options"] = options
    with client.stream("POST", "/v1/completions", json=body) as resp:
        events = [e[6:] for e in resp.read().decode().split("\n\n") if e]
    last = json.loads(events[-2])
    assert (last["choices"] == [] and "usage" in last) is usage_chunk


def test_invalid_json_is_400_not_422(client: httpx.Client) -> None:
    resp = client.post("/v1/chat/completions", content=b"{broken", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "BadRequestError"


def test_metrics_names_and_histograms(client: httpx.Client) -> None:
    client.post("/v1/completions", json={"prompt": "hi", "max_tokens": 2})
    text = client.get("/metrics").text
    for name in (
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:num_preemptions_total",
    ):
        assert f"\n{name}{{" in text or text.startswith(name), name
    for hist in (
        "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:e2e_request_latency_seconds",
        "vllm:request_queue_time_seconds",
    ):
        assert f"# TYPE {hist} histogram" in text
        assert f'{hist}_bucket{{engine="0",model_name="llama-8b",le="+Inf"}}' in text
    assert 'vllm:request_success_total{engine="0",model_name="llama-8b",finished_reason="length"}' in text


def test_faults_switched_on_a_running_server(sim: SimulatorProcess, client: httpx.Client) -> None:
    body = {"prompt": "x", "max_tokens": 8, "stream": True}
    try:
        faults = client.post("/_sim/faults", json={"error_rate": 1.0, "error_status": 503}).json()
        assert faults["error_rate"] == 1.0
        resp = client.post("/v1/completions", json=body)
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == 503
        client.post("/_sim/faults", json={"reset": True, "disconnect_after_chunks": 3})
        got: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError), client.stream("POST", "/v1/completions", json=body) as r:
            got.extend(line for line in r.iter_lines() if line.startswith("data: "))
        client.post("/_sim/faults", json={"reset": True, "stall_ms": 300})
        t0 = time.perf_counter()
        assert client.post("/v1/completions", json={**body, "stream": False}).status_code == 200
        assert time.perf_counter() - t0 >= 0.3
        bad = client.post("/_sim/faults", json={"error_rate": 2})
        assert bad.status_code == 400
    finally:
        assert client.post("/_sim/faults", json={"reset": True}).json()["stall_ms"] == 0
    assert len(got) == 3
    stats = client.get("/_sim/stats").json()
    assert stats["faults_injected"] >= 1


def test_port_opens_only_after_the_load_time() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "o2v.simulate", "vllm", "--port", str(port), "--load-s", "1.0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(0.4)
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "port open during the simulated load"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("/health never answered 200")
    finally:
        proc.terminate()
        proc.wait(5)
