"""Shared fixtures. Missing engines skip locally with a how-to, and fail under CI=true."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.engines import IN_CI, free_port, need

# Flows run in this process log to the console, not to a Prefect API: a test's API server stops before the session
# ends, and Prefect drains unsent log records at exit by retrying each one (~30 s), which held a finished session
# for hours. Servers and workers the tests start (support.prefect_server) turn API logging back on for themselves.
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")

__all__ = ["IN_CI", "free_port", "need"]


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


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness (a temporary local API and database) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield

