"""The ``o2v`` command line. Each area registers its commands from its own module below."""

from __future__ import annotations

from o2v.cli.app import app, main

__all__ = ["app", "main"]

# Command modules register themselves on import; keep one line per area (append below).
from o2v.cli import config_cmd  # noqa: E402,F401
from o2v.cli import flows_cmd  # noqa: E402,F401
from o2v.cli import simulate_cmd  # noqa: E402,F401
from o2v.cli import loadtest_cmd  # noqa: E402,F401
from o2v.cli import diagnose_cmd  # noqa: E402,F401
from o2v.cli import inventory_cmd  # noqa: E402,F401
from o2v.cli import gpu_cmd  # noqa: E402,F401
from o2v.cli import plan_cmd  # noqa: E402,F401
