"""Every baseline-flow test runs against the session's Prefect test harness."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _in_prefect_harness(prefect_harness: None) -> None:
    """Flows need an API; the harness is started once per session (tests/conftest.py)."""
