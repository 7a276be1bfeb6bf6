"""Simulators for the cutover tests, one pair per test (a test that injects faults must not leave them behind)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from o2v.simulate.process import SimulatorProcess

from .rig import MODEL, VLLM_KEY

# ~120 ms a request: long enough that a loaded test machine's scheduling noise stays small next to it, short
# enough for hundreds of requests per stage.
# vLLM's simulator runs one batch step at a time (a prefill holds up every stream's next token, as in vLLM), so the
# time goes into decode, not prefill, and batches cost nothing extra: the two sides are alike until a test says not.
PACED = ["--ttft-ms", "2", "--itl-ms", "15", "--prompt-token-ms", "0", "--response-tokens", "8"]


@pytest.fixture
def sims() -> Iterator[tuple[SimulatorProcess, SimulatorProcess]]:
    with (
        SimulatorProcess("ollama", args=[*PACED, "--num-parallel", "512", "--model", MODEL]) as ollama,
        SimulatorProcess(
            "vllm", args=[*PACED, "--served-model-name", MODEL, "--api-key", VLLM_KEY, "--batch-cost", "0"]
        ) as vllm,
    ):
        yield ollama, vllm
