"""Shared fixtures. Missing engines skip locally with a how-to, and fail under CI=true."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(what: str, how: str) -> None:
    """Skip with a one-line how-to on a laptop; fail in CI, where everything must run for real."""
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine here"
        need("a Docker engine", f"start dockerd (apt-get install docker.io; dockerd &) or run bash .ci/run ({exc})")
    yield client
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("O2V_TEST_POSTGRES_URL", "")
    if not url:
        need("PostgreSQL", "set O2V_TEST_POSTGRES_URL=postgresql://user:pass@127.0.0.1/db (bash .ci/run does this)")
    return url


@pytest.fixture
def port() -> int:
    return free_port()
