"""A gateway in the test's event loop, in front of real simulator subprocesses on loopback.

vLLM's simulator serves the Ollama tag as its served name (as o2v's plan renders it) and requires an API key
that only the gateway knows; Ollama's also serves an extra model vLLM does not have.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.engines import free_port

from o2v.gateway.run import running_gateway
from o2v.gateway.server import Gateway
from o2v.gateway.settings import GatewayConfig
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

FAST = ["--ttft-ms", "1", "--itl-ms", "1", "--prompt-token-ms", "0", "--response-tokens", "8"]
MODEL = "llama3.1:8b"
OLLAMA_ONLY = "nomic-embed-text:latest"
VLLM_KEY = "vllm-secret-key"
ADMIN_TOKEN = "admin-token"


@pytest.fixture(scope="session")
def ollama_sim() -> Iterator[SimulatorProcess]:
    args = [*FAST, "--num-parallel", "256", "--model", MODEL, "--model", OLLAMA_ONLY]
    with SimulatorProcess("ollama", args=args) as sim:
        yield sim


@pytest.fixture(scope="session")
def vllm_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("vllm", args=[*FAST, "--served-model-name", MODEL, "--api-key", VLLM_KEY]) as sim:
        yield sim


@dataclass
class Running:
    gw: Gateway
    url: str
    admin: str
    store: Store


def make_config(ollama_url: str, vllm_url: str, **extra: object) -> GatewayConfig:
    values: dict[str, object] = {
        "listen_host": "127.0.0.1", "listen_port": free_port(), "admin_port": free_port(),
        "admin_token": ADMIN_TOKEN, "ollama_url": ollama_url, "vllm_url": vllm_url, "vllm_api_key": VLLM_KEY,
        "refresh_s": 0.2,
    }  # fmt: skip
    values.update(extra)
    return GatewayConfig.model_validate(values)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'o2v.db'}") as s:
        yield s


@pytest.fixture
async def gateway(ollama_sim: SimulatorProcess, vllm_sim: SimulatorProcess, store: Store) -> AsyncIterator[Running]:
    config = make_config(ollama_sim.url, vllm_sim.url)
    async with running_gateway(config, store) as gw:
        yield Running(gw, f"http://127.0.0.1:{config.listen_port}", f"http://127.0.0.1:{config.admin_port}", store)
