"""Prefect retries the inventory when Ollama answers 503 once; decided failures are never retried."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from aiohttp import web
from prefect import flow
from support.engines import free_port

from o2v.config import Settings
from o2v.errors import (
    ConfigError,
    GateFailed,
    PhaseError,
    ServerHTTPError,
    ServerUnreachable,
    StoreError,
)
from o2v.inventory import Inventory
from o2v.notify import ConsoleNotifier
from o2v.phases import PhaseRunner
from o2v.store import Store
from tasks.common import MigrationContext
from tasks.inventory import inventory_phase
from tasks.retrying import is_transient

pytestmark = pytest.mark.usefixtures("prefect_harness")


def wrapped(cause: BaseException) -> PhaseError:
    """As run_phase raises it: a PhaseError whose cause is the phase's own error."""
    try:
        try:
            raise cause
        except Exception as exc:
            raise PhaseError("inventory", str(exc)) from exc
    except PhaseError as error:
        return error


@pytest.mark.parametrize(
    ("cause", "transient"),
    [
        (ServerUnreachable("connection refused", url="http://127.0.0.1:11434"), True),
        (ServerHTTPError(503, "loading", url="http://127.0.0.1:11434"), True),
        (StoreError("database is locked"), True),
        (ServerHTTPError(404, "model not found"), False),
        (GateFailed("GPU verification", ["compute capability 7.5"]), False),
        (ConfigError(["vllm.port: bad"]), False),
        (RuntimeError("a bug"), False),
    ],
)
def test_only_causes_that_may_pass_are_retried(cause: BaseException, transient: bool) -> None:
    assert is_transient(wrapped(cause)) is transient


def test_inventory_is_retried_after_a_503_and_the_ledger_shows_both_attempts(tmp_path: Path) -> None:
    calls: list[int] = []

    async def tags(_request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) == 1:
            return web.json_response({"error": "server busy, please try again"}, status=503)
        return web.json_response({"models": []})

    async def version(_request: web.Request) -> web.Response:
        return web.json_response({"version": "0.12.3"})

    async def ps(_request: web.Request) -> web.Response:
        return web.json_response({"models": []})

    app = web.Application()
    app.router.add_get("/api/tags", tags)
    app.router.add_get("/api/version", version)
    app.router.add_get("/api/ps", ps)
    from support.crafted_openai import serve_app

    with serve_app(app, free_port()) as url:
        settings = Settings(migration_id="retry", workdir=tmp_path, ollama={"url": url, "log_source": "none"})
        store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
        ctx = MigrationContext(
            settings=settings, store=store, runner=PhaseRunner(store, "retry", settings.config_hash()),
            notifier=ConsoleNotifier(StringIO(), artifacts=False), reports_dir=tmp_path / "reports",
        )

        @flow
        def only_inventory() -> Inventory:
            return inventory_phase.with_options(retry_delay_seconds=0)(ctx, scan_paths=[])

        inventory = only_inventory()
    assert inventory.models == []
    assert len(calls) == 2
    assert [(e.phase, e.status) for e in store.ledger("retry")] == [("inventory", "failed"), ("inventory", "succeeded")]
    assert "503" in (store.ledger("retry")[0].error or "")
