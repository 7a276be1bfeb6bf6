"""Simulators for the cutover tests, one pair per test (a test that injects faults must not leave them behind)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from o2v.simulate.process import SimulatorProcess

from .rig import MODEL, VLLM_KEY

# vLLM's simulator runs one batch step at a time: a sequence joins at the next step, so its TTFT carries up to one
# ITL of waiting that Ollama's simulator has not. A short ITL keeps that wait next to nothing, so the two sides are
# alike (within the test's tolerance) until a test degrades one; the time goes into many short tokens.
PACED = ["--ttft-ms", "2", "--itl-ms", "3", "--prompt-token-ms", "0", "--response-tokens", "24"]


@pytest.fixture
def sims() -> Iterator[tuple[SimulatorProcess, SimulatorProcess]]:
    with (
        SimulatorProcess("ollama", args=[*PACED, "--num-parallel", "512", "--model", MODEL]) as ollama,
        SimulatorProcess(
            "vllm", args=[*PACED, "--served-model-name", MODEL, "--api-key", VLLM_KEY, "--batch-cost", "0"]
        ) as vllm,
    ):
        yield ollama, vllm
