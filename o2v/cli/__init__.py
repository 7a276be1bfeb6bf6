"""The ``o2v`` command line. Each area registers its commands from its own module below."""

from __future__ import annotations

from o2v.cli.app import app, main

__all__ = ["app", "main"]

# Command modules register themselves on import; keep one line per area (append below).
from o2v.cli import (
    check_cmd,  # noqa: E402,F401
    clients_cmd,  # noqa: E402,F401
    config_cmd,  # noqa: E402,F401
    decommission_cmd,  # noqa: E402,F401
    diagnose_cmd,  # noqa: E402,F401
    flows_cmd,  # noqa: E402,F401
    gateway_cmd,  # noqa: E402,F401
    gpu_cmd,  # noqa: E402,F401
    inventory_cmd,  # noqa: E402,F401
    loadtest_cmd,  # noqa: E402,F401
    plan_cmd,  # noqa: E402,F401
    simulate_cmd,  # noqa: E402,F401
    slack_cmd,  # noqa: E402,F401
)

