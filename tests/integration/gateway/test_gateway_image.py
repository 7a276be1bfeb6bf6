"""The gateway image on a real Docker engine, wired as the cutover compose file wires it: the gateway publishes
Ollama's port, the two servers (simulator images) are reachable only by name on a private network."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.engines import free_port, need

import o2v

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]
MODEL = "llama3.1:8b"


def _image(client: Any, tag: str) -> str:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        need(f"the local image {tag}", "build it with: bash deployments/build-images.sh")
    return tag


@pytest.fixture
def stack(docker_client: Any) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    network = docker_client.networks.create(f"o2v-test-{suffix}", labels={"o2v.test": "1"})
    containers: list[Any] = []
    version = o2v.__version__

    def run(image: str, name: str, command: list[str], **extra: Any) -> Any:
        container = docker_client.containers.run(
            _image(docker_client, image), command, detach=True, name=f"{name}-{suffix}", network=network.name,
            labels={"o2v.test": "1"}, **extra,
        )  # fmt: skip
        network.reload()
        containers.append(container)
        return container

    try:
        run(f"o2v-sim-ollama:{version}", "ollama", ["--ttft-ms", "1", "--itl-ms", "1"])
        run(f"o2v-sim-vllm:{version}", "vllm", ["--served-model-name", MODEL, "--api-key", "k", "--ttft-ms", "1",
                                                "--itl-ms", "1", "--host", "0.0.0.0", "--port", "8000"])  # fmt: skip
        public, admin = free_port(), free_port()
        run(
            f"o2v-gateway:{version}", "gateway",
            ["gateway", "--listen", "0.0.0.0:11434", "--ollama", f"http://ollama-{suffix}:11434",
             "--vllm", f"http://vllm-{suffix}:8000", "--route", "ci-bot=vllm"],
            environment={"O2V__VLLM__API_KEY": "k", "O2V__GATEWAY__ADMIN_LISTEN": "0.0.0.0:11436",
                         "O2V__GATEWAY__ADMIN_TOKEN": "t", "O2V__STORE__URL": "sqlite:////data/o2v.db"},
            ports={"11434/tcp": ("127.0.0.1", public), "11436/tcp": ("127.0.0.1", admin)},
        )  # fmt: skip
        yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{admin}"
    finally:
        for container in containers:
            container.remove(force=True)
        network.remove()


def test_the_gateway_container_routes_between_two_internal_servers(stack: tuple[str, str]) -> None:
    public, admin = stack
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(public + "/o2v/health", timeout=2).json()["vllm_models"] == [MODEL]:
                break
        except (httpx.HTTPError, ValueError):
            pass
        assert time.monotonic() < deadline, "the gateway container never became healthy with vLLM's models"
        time.sleep(0.5)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False}
    moved = httpx.post(public + "/api/chat", json=body, headers={"X-O2V-Client": "ci-bot"}, timeout=10)
    stayed = httpx.post(public + "/api/chat", json=body, timeout=10)
    assert moved.status_code == 200
    assert moved.headers["X-O2V-Backend"] == "vllm"
    assert moved.json()["done"] is True
    assert stayed.headers["X-O2V-Backend"] == "ollama"
    assert stayed.json()["message"]["content"]
    metrics = httpx.get(admin + "/metrics", timeout=5).text
    assert 'o2v_gateway_requests_total{api="native",backend="vllm",client="ci-bot",status="200"} 1.0' in metrics
