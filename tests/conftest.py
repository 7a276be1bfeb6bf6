"""Shared fixtures. Missing engines skip locally with a how-to, and fail under CI=true."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.engines import IN_CI, free_port, need

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


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop Prefect log and event records still queued for an API server a test has already stopped.

    Prefect drains those queues when the interpreter exits, sending each record to the server it was meant for with
    the client's retries (about 30 s a record once that server is gone): a finished session would hang for hours.
    The tests that read logs from an API read them while their server runs.
    """
    import queue
    import sys

    services = sys.modules.get("prefect._internal.concurrency.services")
    base = getattr(services, "_QueueServiceBase", None)
    for service in list(getattr(base, "_instances", {}).values()):
        pending = getattr(service, "_queue", None)
        while pending is not None:
            try:
                pending.get_nowait()
            except queue.Empty:
                break
