"""Simulators as real subprocesses on loopback ports, shared by the conformance tests of this folder.

Token timing is set to 1 ms so the whole folder runs in seconds; fidelity of *timing* is tested elsewhere
(issue 3 item 5), here it is the wire format that matters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from o2v.simulate.process import SimulatorProcess

FAST = ["--ttft-ms", "1", "--itl-ms", "1", "--prompt-token-ms", "0", "--response-tokens", "8"]
OLLAMA_MODEL = "llama3.1:8b"
VLLM_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct"
VLLM_MAX_LEN = 2048
API_KEY = "conformance-key"


@dataclass(frozen=True)
class Target:
    """One OpenAI-compatible surface: vLLM's, or Ollama's /v1."""

    name: str
    url: str
    model: str
    max_model_len: int | None


@pytest.fixture(scope="session")
def ollama_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("ollama", args=FAST) as sim:
        yield sim


@pytest.fixture(scope="session")
def vllm_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("vllm", args=[*FAST, "--max-model-len", str(VLLM_MAX_LEN)]) as sim:
        yield sim


@pytest.fixture(scope="session")
def vllm_auth_sim() -> Iterator[SimulatorProcess]:
    args = [*FAST, "--api-key", API_KEY, "--legacy-errors", "--legacy-metrics", "--served-model-name", "team-llm"]
    with SimulatorProcess("vllm", args=args) as sim:
        yield sim


@pytest.fixture(params=["vllm", "ollama"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "vllm":
        sim = request.getfixturevalue("vllm_sim")
        return Target("vllm", sim.url, VLLM_MODEL, VLLM_MAX_LEN)
    sim = request.getfixturevalue("ollama_sim")
    return Target("ollama", sim.url, OLLAMA_MODEL, None)


@contextlib.contextmanager
def faults(url: str, **settings: Any) -> Iterator[None]:
    """Switch faults on a running simulator for the duration of a block, then reset them."""
    httpx.post(f"{url}/_sim/faults", json=settings, timeout=5).raise_for_status()
    try:
        yield
    finally:
        httpx.post(f"{url}/_sim/faults", json={"reset": True}, timeout=5).raise_for_status()
