"""End-to-end fixtures: a real Prefect server started by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engines import need
from support.prefect_server import PREFECT, PrefectServer


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    if not Path(PREFECT).exists():
        need("the prefect CLI", "pip install -e '.[test]' into this interpreter's environment")
    server = PrefectServer(tmp_path_factory.mktemp("prefect-home"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
