"""Shared fixtures. Missing engines skip locally with a how-to, and fail under CI=true."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.engines import IN_CI, free_port, need
from support.prefect_server import drop_unsent_prefect_items

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
        drop_unsent_prefect_items()  # the harness drains its workers on leaving: only what is for its own API




def pytest_unconfigure(config: pytest.Config) -> None:
    drop_unsent_prefect_items()
