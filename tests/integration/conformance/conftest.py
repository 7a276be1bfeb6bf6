"""Simulators as real subprocesses on loopback ports, started once per session for this folder.

This folder is a package (``__init__.py``) so this conftest does not shadow ``tests/conftest.py``
as the top-level module ``conftest`` that other tests import ``need`` from.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from o2v.simulate.process import SimulatorProcess

from .sims import API_KEY, FAST, OLLAMA_MODEL, VLLM_MAX_LEN, VLLM_MODEL, Target


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
