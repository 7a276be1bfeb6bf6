"""The local images on a real Docker engine: a container starts, and a server in it answers on a mapped port.

The images are built by ``deployments/build-images.sh`` (``bash .ci/run`` does it). Without an engine or the
images this skips with a how-to on a laptop and fails under CI=true.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.engines import need

import o2v

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

BASE_IMAGE = "o2v-base:bookworm"


def image_or_need(client: Any, tag: str) -> None:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        need(f"the local image {tag}", "build it with: bash deployments/build-images.sh")


@pytest.fixture
def run_container(docker_client: Any) -> Iterator[Any]:
    """Start containers that are always removed, even when the test fails half-way."""
    started: list[Any] = []

    def start(image: str, command: list[str], container_port: int, host_port: int) -> Any:
        image_or_need(docker_client, image)
        container = docker_client.containers.run(
            image, command, detach=True, name=f"o2v-test-{uuid.uuid4().hex[:10]}",
            ports={f"{container_port}/tcp": ("127.0.0.1", host_port)}, labels={"o2v.test": "1"},
        )
        started.append(container)
        return container

    yield start
    for container in started:
        container.remove(force=True)


def wait_for(url: str, container: Any, timeout_s: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return response
        except httpx.HTTPError as exc:
            last = exc
        container.reload()
        if container.status == "exited":
            pytest.fail(f"container exited before {url} answered; its logs:\n{container.logs().decode()[-2000:]}")
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout_s} s ({last}); logs:\n{container.logs().decode()[-2000:]}")


def test_base_image_serves_http_through_a_mapped_port(run_container: Any, port: int) -> None:
    script = (
        "import http.server, os, sys; os.chdir('/tmp'); open('/tmp/hello.txt','w').write(sys.version); "
        "http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port=8000, bind='0.0.0.0')"
    )
    container = run_container(BASE_IMAGE, ["python3", "-c", script], 8000, port)
    response = wait_for(f"http://127.0.0.1:{port}/hello.txt", container)
    assert response.text.startswith("3.11"), response.text  # Debian 12's python3


def test_simulator_image_answers_like_ollama(run_container: Any, port: int) -> None:
    tag = f"o2v-sim:{o2v.__version__}"
    container = run_container(tag, ["ollama", "--host", "0.0.0.0", "--port", "11434"], 11434, port)
    response = wait_for(f"http://127.0.0.1:{port}/api/tags", container)
    models = response.json()["models"]
    assert models, response.text
    assert all("name" in m for m in models)


def test_containers_are_gone_after_the_test(docker_client: Any) -> None:
    leftovers = docker_client.containers.list(all=True, filters={"label": "o2v.test=1"})
    names = [c.name for c in leftovers]
    assert not [n for n in names if n.startswith("o2v-test-")], f"containers left behind: {names}"
