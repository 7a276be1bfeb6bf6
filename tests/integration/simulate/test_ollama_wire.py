"""The Ollama simulator on the wire: routes, shapes, errors, queue limits, aborts and both log streams."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from o2v.simulate.process import SimulatorProcess

MODEL = "llama3.1:8b"
GIN = re.compile(r'^\[GIN\] \d{4}/\d{2}/\d{2} - \d{2}:\d{2}:\d{2} \| (\d{3}) \| +\S+ \| +[\d.:a-f]+ \| (\S+) +"(.+)"$')


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("ollama", args=["--ttft-ms", "5", "--itl-ms", "1", "--response-tokens", "12",
                                          "--num-parallel", "2"]) as proc:  # fmt: skip
        yield proc


@pytest.fixture
def client(sim: SimulatorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c


def test_root_version_tags_show_ps(client: httpx.Client) -> None:
    assert client.get("/").text == "Ollama is running"
    assert client.head("/").status_code == 200
    assert re.fullmatch(r"\d+\.\d+\.\d+", client.get("/api/version").json()["version"])
    tag = client.get("/api/tags").json()["models"][0]
    assert tag["name"] == MODEL
    assert re.fullmatch(r"[0-9a-f]{64}", tag["digest"])
    assert tag["details"]["quantization_level"] == "Q4_K_M"
    assert tag["details"]["family"] == "llama"
    show = client.post("/api/show", json={"model": MODEL}).json()
    info = show["model_info"]
    assert info["general.architecture"] == "llama"
    assert info["llama.attention.head_count_kv"] == 8
    assert info["llama.block_count"] == 32
    assert {"license", "modelfile", "parameters", "template", "details", "capabilities"} <= show.keys()
    assert client.post("/api/show", json={"name": MODEL}).status_code == 200  # legacy field
    client.post("/api/generate", json={"model": MODEL, "prompt": "hi", "stream": False})
    ps = client.get("/api/ps").json()["models"][0]
    assert ps["name"] == MODEL
    assert ps["context_length"] == 4096
    assert ps["size_vram"] > tag["size"]


def test_streaming_chat_is_ndjson_with_metrics_on_the_last_line(client: httpx.Client) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "options": {"num_predict": 5}}
    with client.stream("POST", "/api/chat", json=body) as resp:
        assert resp.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in resp.iter_lines() if line]
    assert len(lines) == 6
    assert all(not line["done"] and "eval_count" not in line for line in lines[:-1])
    assert lines[0]["message"]["role"] == "assistant"
    last = lines[-1]
    assert last["done"] is True
    assert last["done_reason"] == "length"
    assert last["eval_count"] == 5
    for key in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_duration"):
        assert isinstance(last[key], int)
    assert last["total_duration"] >= last["eval_duration"]
    assert last["created_at"].endswith("Z")


def test_same_seed_same_text_other_seed_other_text(client: httpx.Client) -> None:
    def text(seed: int) -> str:
        body = {"model": MODEL, "prompt": "tell me", "stream": False, "options": {"seed": seed}}
        return str(client.post("/api/generate", json=body).json()["response"])

    assert text(7) == text(7)
    assert text(7) != text(8)


def test_load_and_unload_with_empty_prompt(client: httpx.Client) -> None:
    loaded = client.post("/api/generate", json={"model": MODEL}).json()
    assert (loaded["done"], loaded["done_reason"]) == (True, "load")
    unloaded = client.post("/api/chat", json={"model": MODEL, "messages": [], "keep_alive": 0}).json()
    assert unloaded["done_reason"] == "unload"
    assert client.get("/api/ps").json()["models"] == []


@pytest.mark.parametrize(
    ("path", "content", "status", "error"),
    [
        ("/api/chat", b"", 400, "missing request body"),
        ("/api/chat", b"{nope", 400, "invalid character 'n' looking for beginning of value"),
        ("/api/generate", b'{"model":"nope:1b","prompt":"x"}', 404, "model 'nope:1b' not found"),
        ("/api/show", b"{}", 400, "model is required"),
        ("/api/generate", b'{"model":"llama3.1:8b","prompt":"x","keep_alive":"soon"}', 400,
         'time: invalid duration "soon"'),
    ],
)  # fmt: skip
def test_errors_have_ollama_status_and_body(client: httpx.Client, path: str, content: bytes, status: int,
                                            error: str) -> None:  # fmt: skip
    resp = client.post(path, content=content)
    assert resp.status_code == status
    assert resp.json() == {"error": error}


def test_unknown_route_is_gins_plain_404(client: httpx.Client) -> None:
    resp = client.get("/api/nothing")
    assert (resp.status_code, resp.text) == (404, "404 page not found")


def test_openai_compatible_routes(client: httpx.Client) -> None:
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    assert models["data"][0] == {**models["data"][0], "id": MODEL, "object": "model", "owned_by": "library"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": 4}  # fmt: skip
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    missing = client.post("/v1/chat/completions", json={**body, "model": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"


def test_logs_are_in_ollamas_formats(sim: SimulatorProcess, client: httpx.Client) -> None:
    client.get("/api/tags")
    time.sleep(0.1)
    config = [line for line in sim.stderr_lines if 'msg="server config"' in line]
    assert config
    assert "OLLAMA_NUM_PARALLEL:2" in config[0]
    assert "OLLAMA_MAX_QUEUE:512" in config[0]
    assert re.match(r"^time=\S+ level=INFO source=\S+:\d+ msg=", config[0])
    access = [GIN.match(line) for line in sim.stdout_lines if line.startswith("[GIN] ")]
    assert access
    assert all(access), [line for line in sim.stdout_lines if line.startswith("[GIN] ")][:3]
    assert ("200", "GET", "/api/tags") in [m.groups() for m in access if m]


def test_queue_full_is_503_with_the_exact_body() -> None:
    args = ["--max-queue", "1", "--load-ms", "600", "--ttft-ms", "1", "--itl-ms", "1"]
    with SimulatorProcess("ollama", args=args) as sim:
        results: list[httpx.Response] = []

        def send() -> None:
            results.append(httpx.post(sim.url + "/api/generate", json={"model": MODEL, "prompt": "x",
                                                                        "stream": False}, timeout=10))  # fmt: skip

        threads = [threading.Thread(target=send) for _ in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 503]
    busy = next(r for r in results if r.status_code == 503)
    assert busy.json() == {"error": "server busy, please try again.  maximum pending requests exceeded"}


def test_client_leaving_while_waiting_for_a_slot_is_499_and_logged() -> None:
    with SimulatorProcess("ollama", args=["--ttft-ms", "800", "--itl-ms", "1"]) as sim:
        first = threading.Thread(target=lambda: httpx.post(
            sim.url + "/api/chat", json={"model": MODEL, "messages": [{"role": "user", "content": "a"}]},
            timeout=10))  # fmt: skip
        first.start()
        time.sleep(0.2)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(sim.url + "/api/chat", json={"model": MODEL, "messages": [{"role": "user", "content": "b"}]},
                       timeout=0.3)  # fmt: skip
        first.join()
        time.sleep(0.2)
        stats = httpx.get(sim.url + "/_sim/stats").json()
    assert any('msg="aborting chat request due to client closing the connection"' in line
               for line in sim.stderr_lines)  # fmt: skip
    assert any(" | 499 | " in line and '"/api/chat"' in line for line in sim.stdout_lines)
    assert stats["requests_by_status"].get("499") == 1


def test_model_loads_on_first_use_and_after_keep_alive_expiry() -> None:
    with SimulatorProcess("ollama", args=["--load-ms", "300", "--ttft-ms", "1", "--itl-ms", "1"]) as sim:

        def load_s(keep_alive: str) -> float:
            body = {"model": MODEL, "prompt": "x", "stream": False, "keep_alive": keep_alive}
            return float(httpx.post(sim.url + "/api/generate", json=body, timeout=10).json()["load_duration"]) / 1e9

        assert load_s("300ms") >= 0.25
        assert load_s("300ms") < 0.05
        time.sleep(0.5)
        assert load_s("5m") >= 0.25
        assert httpx.get(sim.url + "/_sim/stats").json()["model_loads"] == 2
    assert sum('msg="starting llama-server"' in line for line in sim.stderr_lines) == 2  # Ollama 0.30+
    assert sum('msg="llama-server started in' in line for line in sim.stderr_lines) == 4  # twice per load
