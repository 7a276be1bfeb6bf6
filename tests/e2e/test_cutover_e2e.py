"""The cutover as a team meets it: prefect.yaml deployed to a real Prefect server, a process worker running the
`cutover` deployment, the gateway in front of both simulators, steady traffic from several clients, and Slack's
Web API and Socket Mode stand-ins with the real listener.

Four runs, each its own migration id over the same gateway and routing table: approved in Slack (both stages), then
(everyone routed back) rejected in Slack, timed out, and approved but with vLLM degrading mid-stage, which rolls back.
The simulators run as local processes here rather than containers (docs/cutover.md says why).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.cutover.rig import Answerer, Traffic, inject, write_config
from integration.cutover.test_cutover_flow import APPROVER, CLIENTS, click_in_slack
from support.engines import free_port
from support.prefect_server import POOL, PrefectServer, api_at
from support.slack_api import APP_TOKEN, TOKEN, SlackAPIServer
from support.slack_socket import SocketModeServer

from o2v.approvals.socket_mode import listen
from o2v.config import load_settings
from o2v.cutover.position import load_position
from o2v.gateway.process import GatewayProcess
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
PACED = ["--ttft-ms", "2", "--itl-ms", "3", "--prompt-token-ms", "0", "--response-tokens", "24"]


class Listener:
    """`o2v slack listen` in a thread, talking to the test's Prefect server."""

    def __init__(self, config: Path, store: Store, api_url: str) -> None:
        self.settings, self.store, self.api_url = load_settings(config), store, api_url
        self.stop: asyncio.Event | None = None
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        with api_at(self.api_url):
            self.loop.run_until_complete(self._run())

    async def _run(self) -> None:
        self.stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(listen(self.settings, audit=self.store, stop=self.stop, ready=ready))
        await ready.wait()
        self.ready.set()
        await task

    def __enter__(self) -> Listener:
        self.thread.start()
        assert self.ready.wait(20), "the listener did not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)


@pytest.fixture
def slack() -> Iterator[tuple[SlackAPIServer, SocketModeServer]]:
    with SlackAPIServer() as api, SocketModeServer(api) as socket:
        yield api, socket


def run_cutover(server: PrefectServer, config: Path, migration_id: str) -> Any:
    from prefect.deployments import run_deployment

    parameters = {"params": {"config_path": str(config), "migration_id": migration_id}}
    with api_at(server.api_url):
        # Called from sync code, run_deployment runs synchronously and returns the finished FlowRun.
        return run_deployment("cutover/cutover", parameters=parameters, timeout=600)


def test_cutover_deployment_approved_rejected_timed_out_and_rolled_back(
    prefect_server: PrefectServer, slack: tuple[SlackAPIServer, SocketModeServer], tmp_path: Path
) -> None:
    api, socket = slack
    prefect_server.cli("work-pool", "create", POOL, "--type", "process", "--overwrite")
    prefect_server.cli("--no-prompt", "deploy", "--all")
    inspected = prefect_server.cli("deployment", "inspect", "cutover/cutover").stdout
    assert "'global_concurrency_limit': {" in inspected  # prefect.yaml's concurrency_limit: 1
    assert "'limit': 1," in inspected
    prefect_server.start_worker()
    store_url = f"sqlite:///{tmp_path / 'o2v.db'}"
    with (
        SimulatorProcess("ollama", args=[*PACED, "--num-parallel", "512", "--model", "llama3.1:8b"]) as ollama,
        SimulatorProcess("vllm", args=[*PACED, "--served-model-name", "llama3.1:8b", "--api-key", "vllm-secret-key",
                                       "--batch-cost", "0"]) as vllm,
        Store(store_url) as store,
    ):  # fmt: skip
        slack_settings = {"bot_token": TOKEN, "app_token": APP_TOKEN, "base_url": api.url, "approvers": [APPROVER]}
        cut = {"stages": [{"clients": ["team-a"], "watch_window_s": 12}, {"percent": 100, "watch_window_s": 3}]}
        config = write_config(tmp_path / "migration.yaml", ollama=ollama.url, vllm=vllm.url, store_url=store_url,
                              slack=slack_settings, cutover=cut)  # fmt: skip
        impatient = write_config(tmp_path / "impatient.yaml", ollama=ollama.url, vllm=vllm.url, store_url=store_url,
                                 slack={**slack_settings, "approval_timeout_s": 3}, cutover=cut)  # fmt: skip
        listen_at = f"127.0.0.1:{free_port()}"
        url = prefect_server.api_url
        with (
            GatewayProcess(config, listen=listen_at),
            Listener(config, store, url),
            Traffic(f"http://{listen_at}", CLIENTS * 10) as traffic,
        ):
            traffic.wait_for(200)
            approve = {
                "stage-1": click_in_slack(api, socket, "approve"),
                "stage-2": click_in_slack(api, socket, "approve"),
            }
            with Answerer(store, "e2e-approved", approve, api_url=url):
                approved = run_cutover(prefect_server, config, "e2e-approved")
            assert approved.state.is_completed(), approved.state
            table = store.routing_table()
            assert (table.percent, set(table.routes.values())) == (100.0, {"vllm"})

            store.reset_routes(actor="e2e", reason="next scenario")
            with Answerer(store, "e2e-rejected", {"stage-1": click_in_slack(api, socket, "reject")}, api_url=url):
                rejected = run_cutover(prefect_server, config, "e2e-rejected")
            assert rejected.state.is_failed()
            assert "rejected" in (rejected.state.message or "")
            version = store.routing_version()

            timed_out = run_cutover(prefect_server, impatient, "e2e-timeout")
            assert timed_out.state.is_failed()
            assert load_position(store, "e2e-timeout").status == "timed-out"
            assert store.routing_version() == version  # neither moved anybody

            def approve_then_degrade(run: str) -> None:
                click_in_slack(api, socket, "approve")(run)
                threading.Thread(target=degrade_mid_stage, daemon=True).start()

            def degrade_mid_stage() -> None:
                deadline = time.monotonic() + 120
                while load_position(store, "e2e-degraded").status != "watching" and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1.5)
                inject(vllm.url, added_latency_ms=5000)

            with Answerer(store, "e2e-degraded", {"stage-1": approve_then_degrade}, api_url=url):
                degraded = run_cutover(prefect_server, config, "e2e-degraded")
            assert degraded.state.is_failed()
            assert "failed intervals" in (degraded.state.message or "")
            assert load_position(store, "e2e-degraded").status == "rolled-back"
            table = store.routing_table()
            assert (table.percent, set(table.routes.values())) == (0.0, {"ollama"})
            inject(vllm.url, reset=True)
            traffic.wait_for(200)
    assert traffic.tally.failures == [], traffic.tally.failures[:5]
    assert traffic.tally.ok == traffic.tally.sent
    assert set(traffic.tally.last_backend.values()) == {"ollama"}
    assert any("rolled back automatically" in m.text for m in api.messages)
