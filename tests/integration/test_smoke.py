"""Smoke phase against the two simulators: passes on healthy servers, lists every problem on a broken vLLM."""

from __future__ import annotations

import httpx
import pytest

from o2v.errors import GateFailed
from o2v.simulate.process import SimulatorProcess
from o2v.smoke import smoke_test

FAST = ["--ttft-ms", "5", "--itl-ms", "2"]
OLLAMA_MODEL = "llama3.1:8b"
VLLM_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct"


@pytest.fixture(scope="module")
def servers():
    with SimulatorProcess("ollama", args=FAST) as ollama, SimulatorProcess("vllm", args=FAST) as vllm:
        yield ollama, vllm


def test_healthy_servers_pass_and_are_compared(servers) -> None:
    ollama, vllm = servers
    result = smoke_test(ollama.url, OLLAMA_MODEL, vllm.url, VLLM_MODEL, prompts=("Say hi.",), max_tokens=8)
    assert [(c.backend, c.mode, c.ok) for c in result.calls] == [
        ("ollama", "stream", True), ("ollama", "once", True), ("vllm", "stream", True), ("vllm", "once", True),
    ]
    streamed = [c for c in result.calls if c.mode == "stream"]
    assert all(c.chunks == 8 and c.completion_tokens == 8 for c in streamed)
    assert all(c.stream_spread_ms is not None and c.stream_spread_ms > 5 for c in streamed)
    assert "| vllm | stream |" in result.to_markdown()


def test_failing_vllm_is_a_gate_with_every_problem(servers) -> None:
    ollama, vllm = servers
    httpx.post(f"{vllm.url}/_sim/faults", json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
    try:
        with pytest.raises(GateFailed) as failed:
            smoke_test(ollama.url, OLLAMA_MODEL, vllm.url, VLLM_MODEL, prompts=("a", "b"), max_tokens=4)
    finally:
        httpx.post(f"{vllm.url}/_sim/faults", json={"reset": True}).raise_for_status()
    assert len(failed.value.violations) == 4  # two prompts x (stream, once)
    assert all("500" in v for v in failed.value.violations)


def test_unknown_vllm_model_is_reported(servers) -> None:
    ollama, vllm = servers
    with pytest.raises(GateFailed, match="does not exist"):
        smoke_test(ollama.url, OLLAMA_MODEL, vllm.url, "no/such-model", prompts=("a",), max_tokens=4)
