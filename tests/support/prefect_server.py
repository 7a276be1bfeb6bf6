"""A real Prefect server and a real process worker, started by the tests, torn down afterwards."""
# ruff: noqa: SIM115

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.engines import free_port

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "o2v-process"


@contextmanager
def api_at(api_url: str) -> Iterator[None]:
    """Point this thread's Prefect client at ``api_url``; on leaving, send what was queued for it while it runs."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}):
        try:
            yield
        finally:
            flush_to_api()


def flush_to_api(timeout_s: float = 30) -> None:
    """Send the queued events and logs now and stop their workers, so the next use starts fresh ones.

    Prefect keys its events worker by client type, not by API address: one left running after its server
    stops keeps every later event of the session, retries each for seconds, and holds the exit for hours.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=timeout_s)
    APILogWorker.drain_all(timeout=timeout_s)


def drop_unsent_prefect_items() -> None:
    """Drop Prefect events and log records still queued for a test API that has stopped, and say so.

    The safety net behind api_at: draining them (the harness does on leaving, Prefect does at exit) retries each
    record for seconds against an address nobody listens on, which held a finished session for hours.
    """
    try:
        from prefect._internal.concurrency.services import _active_services
    except ImportError:  # a Prefect that moved its internals: nothing to drop, the drains are theirs again
        return
    for service in list(_active_services):
        dropped = 0
        while True:
            try:
                item = service._queue.get_nowait()
            except queue.Empty:
                break
            service._queue.task_done()
            dropped += item is not None
        if dropped:
            name = type(service).__name__
            print(f"\ndropped {dropped} unsent {name} items (a test API had stopped)", file=sys.stderr)


class PrefectServer:
    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.home = home
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            # Deployments from prefect.yaml include the cron-scheduled baseline monitor; the test starts its
            # runs itself, so the scheduler service stays off and nothing fires on its own.
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        log = open(self.home / "server.log", "wb")
        self.processes.append(
            subprocess.Popen(
                [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.processes[0].poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError("prefect server did not start:\n" + (self.home / "server.log").read_text()[-3000:])

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [PREFECT, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def start_worker(self) -> None:
        log = open(self.home / "worker.log", "wb")
        self.processes.append(
            subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", POOL, "--type", "process", "--limit", "1"],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, 15)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
