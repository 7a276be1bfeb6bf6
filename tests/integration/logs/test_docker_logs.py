"""Ollama's log read from a real container's Docker logs, as the diagnose and inventory phases do."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from support.engines import free_port

import o2v
from o2v.config import Settings
from o2v.errors import ServerError
from o2v.inventory import take_inventory
from o2v.servers.logs import AccessRecord, docker_log_lines, parse_lines, server_config

pytestmark = pytest.mark.docker


def test_access_lines_and_server_config_come_back_from_docker(docker_client: Any) -> None:
    port = free_port()
    container = docker_client.containers.run(
        f"o2v-sim-ollama:{o2v.__version__}", command=["--num-parallel", "2", "--ttft-ms", "5"],
        name=f"o2v-logs-test-{uuid.uuid4().hex[:8]}", detach=True, ports={"11434/tcp": ("127.0.0.1", port)},
        environment={"OLLAMA_KEEP_ALIVE": "10m"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        httpx.post(f"{url}/api/chat", json={"model": "llama3.1:8b", "stream": False,
                                            "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
        httpx.post(f"{url}/api/show", json={"model": "no-such-model"}, timeout=30)
        time.sleep(0.3)  # let the access lines reach Docker's log driver

        records = list(parse_lines(docker_log_lines(container.name, client=docker_client)))
        # The inventory reads the same log through the one reader of Ollama's configured log, with the caller's client.
        settings = Settings(ollama={"url": url, "container_name": container.name, "log_source": "docker"})  # type: ignore[arg-type]
        inventory = take_inventory(settings, docker_client=docker_client)
    finally:
        container.remove(force=True)

    assert not [p for p in inventory.problems if "log not read" in p], inventory.problems
    (client,) = inventory.clients  # the test's own address: its readiness polls of / and its two API calls
    assert {"POST /api/chat", "POST /api/show"} <= set(client.paths)
    assert client.errors == 1
    assert inventory.settings.sources["OLLAMA_NUM_PARALLEL"] in {"container env", "server config log line"}

    access = [r for r in records if isinstance(r, AccessRecord)]
    assert [(r.method, r.path, r.status) for r in access if r.path.startswith("/api/")] == [
        ("POST", "/api/chat", 200), ("POST", "/api/show", 404),
    ]
    assert all(r.client_ip for r in access)
    config = server_config(records)
    assert config["OLLAMA_NUM_PARALLEL"] == "2"
    assert config["OLLAMA_KEEP_ALIVE"] in {"10m", "10m0s"}


def test_a_missing_container_is_a_clear_error(docker_client: Any) -> None:
    with pytest.raises(ServerError, match="expected a Docker container named 'o2v-no-such-ollama'"):
        list(docker_log_lines("o2v-no-such-ollama", client=docker_client))
