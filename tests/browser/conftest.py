"""The browser tier: headless Chromium (Debian's package) in front of a real `prefect server start`.

One server for the browser module, with the UI on, the work pool created and every deployment of prefect.yaml
applied, and a process worker that runs what the UI starts. Chromium is driven by Playwright pointed at the
Debian executable: no browser download.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import CHROMIUM_ARGS, VIEWPORT, chromium_path
from support.engines import need
from support.prefect_server import POOL, PREFECT, ROOT, PrefectServer


# Module scope, not session: Playwright's sync API runs an event loop in this thread while it is open, and the
# Prefect server and worker hold CPU; both must be gone before the rest of the suite (asyncio.run, pytest-asyncio).
@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real Prefect server with its UI, the project's deployments applied, and a process worker."""
    if not Path(PREFECT).exists():
        need("the prefect CLI", "pip install -e '.[test]' into this interpreter's environment")
    server = PrefectServer(tmp_path_factory.mktemp("prefect-ui-home"))
    server.env.update({
        "PREFECT_UI_ENABLED": "true",
        "PREFECT_UI_API_URL": server.api_url,
        # The worker's flow-run processes import flows/ and tasks/ from this tree, as the deployment says.
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",  # the runs' logs, as a person reads them in the Logs tab
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    })
    server.start()
    try:
        server.cli("work-pool", "create", POOL, "--type", "process", "--overwrite")
        server.cli("--no-prompt", "deploy", "--all")
        server.start_worker()
        wait_until_ready(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        need("Chromium", "apt-get install chromium (bash .ci/run does this); or set O2V_CHROMIUM to its path")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("Playwright", "pip install -e '.[test]' (the Python package only: it drives the system Chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, ui_server: PrefectServer) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, base_url=ui_server.api_url.removesuffix("/api"))
    context.set_default_timeout(30_000)
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # a loaded 2-core CI machine renders slower than the default 5 s allow
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def wait_until_ready(server: PrefectServer, timeout_s: float = 90) -> None:
    """Until the worker's first heartbeat the UI shows every deployment as "Not Ready": wait for the pool."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{server.api_url}/work_pools/{POOL}", timeout=5).json().get("status") == "READY":
            return
        time.sleep(0.5)
    log = (server.home / "worker.log").read_text()
    raise RuntimeError(f"work pool {POOL} is not ready after {timeout_s} s; the worker's log:\n{log[-3000:]}")
