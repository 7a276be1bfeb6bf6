"""The cutover flow against the simulators, a gateway subprocess and steady traffic from several clients.

Approvals go through the real paths: Prefect's resume API (as the UI's form does) and, in one run, a click in
Slack (stand-ins for the Web API and Socket Mode, the real listener). Failed client requests are counted by the
clients themselves.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.engines import free_port
from support.slack_api import APP_TOKEN, TOKEN, SlackAPIServer
from support.slack_socket import SocketModeServer, button_click

from o2v.approvals.blocks import ACTION_PREFIX
from o2v.approvals.models import ButtonValue
from o2v.approvals.socket_mode import listen
from o2v.config import load_settings
from o2v.errors import GateFailed, PhaseError
from o2v.gateway.process import GatewayProcess
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

from .rig import Answerer, Traffic, inject, position, resume, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")
APPROVER = "U0APPROVER"
CLIENTS: list[str | None] = ["team-a", "team-b", None]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'o2v.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store(store_url) as s:
        yield s


@pytest.fixture
def api() -> Iterator[SlackAPIServer]:
    with SlackAPIServer() as server:
        yield server


def run_cutover(config: Path) -> Any:
    from flows.cutover import CutoverParameters, cutover

    return cutover(CutoverParameters(config_path=str(config)))


class SlackListening:
    """The Socket Mode listener in its own loop, as `o2v slack listen` runs it."""

    def __init__(self, config: Path, store: Store) -> None:
        self.settings, self.store = load_settings(config), store
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)

    async def _run(self) -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(listen(self.settings, audit=self.store, stop=self.stop, ready=ready))
        await ready.wait()
        self.ready.set()
        await task

    def __enter__(self) -> SlackListening:
        self.thread.start()
        assert self.ready.wait(15), "the listener did not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)


def click_in_slack(api: SlackAPIServer, socket: SocketModeServer, decision: str) -> Callable[[str], None]:
    def answer(run: str) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for message in api.messages:
                for block in (b for b in message.blocks if b.get("type") == "actions"):
                    for button in block["elements"]:
                        value = ButtonValue.decode(button["value"])
                        if value.run == run and button["action_id"] == ACTION_PREFIX + decision:
                            payload = button_click(message.ts, message.channel, APPROVER, button["action_id"],
                                                   button["value"])  # fmt: skip
                            payload["message"]["blocks"] = message.blocks
                            socket.click(payload)
                            return
            time.sleep(0.1)
        raise AssertionError(f"no Slack question with a {decision} button for run {run}")

    return answer


def test_approved_in_slack_and_in_prefect_every_client_ends_on_vllm_without_a_failed_request(
    sims: tuple[SimulatorProcess, SimulatorProcess], tmp_path: Path, store_url: str, store: Store
) -> None:
    ollama, vllm = sims
    with SlackAPIServer() as api, SocketModeServer(api) as socket:
        slack = {"bot_token": TOKEN, "app_token": APP_TOKEN, "base_url": api.url, "approvers": [APPROVER]}
        config = write_config(tmp_path / "migration.yaml", ollama=ollama.url, vllm=vllm.url, store_url=store_url,
                              slack=slack)  # fmt: skip
        script = {"stage-1": click_in_slack(api, socket, "approve"), "stage-2": resume("approve")}
        listen_at = f"127.0.0.1:{free_port()}"
        with (
            GatewayProcess(config, listen=listen_at),
            SlackListening(config, store),
            Traffic(f"http://{listen_at}", CLIENTS * 10) as traffic,
            Answerer(store, "cutover-test", script) as answerer,
        ):
            traffic.wait_for(200)
            summary = run_cutover(config)
            traffic.wait_for(300)
    assert answerer.answered == ["stage-1", "stage-2"]
    assert traffic.tally.failures == []
    assert traffic.tally.ok == traffic.tally.sent
    assert [r.end for r in summary.stages] == ["promoted", "promoted"]
    first = summary.stages[0].traffic.by_client
    # The gateway follows the table within its refresh (0.2 s): team-a's first requests of the stage may still
    # have gone to Ollama; none of team-b's went to vLLM.
    assert first["team-a"]["vllm"] > 10 * first["team-a"].get("ollama", 0)
    assert "vllm" not in first["team-b"]
    table = store.routing_table()
    assert (table.percent, set(table.routes.values())) == (100.0, {"vllm"})
    assert set(traffic.tally.last_backend.values()) == {"vllm"}, traffic.tally.last_backend
    final = position(store)
    assert (final.status, final.completed, final.in_force) == ("done", 2, 2)
    approvals = [e for e in store.audit_log() if e.action == "approval"]
    # One entry per decision, written by the flow, whether Slack or the Prefect form answered.
    assert [(e.actor, e.detail["decision"]) for e in approvals] == [
        (f"slack:{APPROVER}", "approve"),
        ("prefect-ui:dana", "approve"),
    ]
    ledger = {e.phase: e.status for e in store.ledger("cutover-test")}
    assert ledger == {"cutover-stage-1": "succeeded", "cutover-stage-2": "succeeded"}


def test_a_degrading_vllm_rolls_back_under_200_streams_and_reruns_resume_at_that_stage(
    sims: tuple[SimulatorProcess, SimulatorProcess], tmp_path: Path, store_url: str, store: Store, api: SlackAPIServer
) -> None:
    ollama, vllm = sims
    slack = {"bot_token": TOKEN, "base_url": api.url}  # the alert goes to Slack; answers come from Prefect
    # Stage 1 is watched long enough for vLLM to degrade in its middle.
    stages = {"stages": [{"clients": ["team-a"], "watch_window_s": 15}, {"percent": 100, "watch_window_s": 3}]}
    config = write_config(tmp_path / "migration.yaml", ollama=ollama.url, vllm=vllm.url, store_url=store_url,
                          cutover=stages, slack=slack)  # fmt: skip
    short = write_config(tmp_path / "impatient.yaml", ollama=ollama.url, vllm=vllm.url, store_url=store_url,
                         slack={**slack, "approval_timeout_s": 2})  # fmt: skip
    listen_at = f"127.0.0.1:{free_port()}"
    streams = [f"team-{'ab'[i % 2]}" if i % 3 else None for i in range(200)]
    with GatewayProcess(config, listen=listen_at), Traffic(f"http://{listen_at}", streams) as traffic:
        traffic.wait_for(400)

        def approve_then_degrade(run: str) -> None:
            resume("approve")(run)
            threading.Thread(target=degrade_once_watched, daemon=True).start()

        def degrade_once_watched() -> None:
            deadline = time.monotonic() + 30
            while position(store).status != "watching" and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)  # mid-stage: the first interval has seen a healthy vLLM
            inject(vllm.url, added_latency_ms=5000)  # far beyond the test's 5x tolerance

        with (
            Answerer(store, "cutover-test", {"stage-1": approve_then_degrade}),
            pytest.raises(GateFailed, match="failed intervals") as failed,
        ):
            run_cutover(config)
        assert "p95" in str(failed.value)
        [alert] = [m for m in api.messages if "rolled back automatically" in m.text]
        shown = str(alert.blocks)
        assert re.search(r"p95 (e2e|TTFT) ratio", shown)  # the failed expectations (either may fail first)
        assert "data_docs" in shown  # and the link to the Data Docs of the interval that decided
        rolled = position(store)
        assert (rolled.status, rolled.completed, rolled.in_force) == ("rolled-back", 0, 0)
        table = store.routing_table()
        assert set(table.routes.values()) == {"ollama"}
        assert table.percent == 0.0
        traffic.wait_for(400)
        inject(vllm.url, reset=True)

        # No answer in time: the run fails, nothing moves, the position says why.
        version = store.routing_version()
        with Answerer(store, "cutover-test", {"stage-1": None}), pytest.raises(PhaseError, match="timed-out"):
            run_cutover(short)
        assert (position(store).status, store.routing_version()) == ("timed-out", version)

        # A rejection: asked again at stage 1 (the stage it stopped at), and again nothing moves.
        with Answerer(store, "cutover-test", {"stage-1": resume("reject")}) as answerer:
            with pytest.raises(PhaseError, match="rejected by dana"):
                run_cutover(config)
        assert answerer.answered == ["stage-1"]
        assert (position(store).status, store.routing_version()) == ("rejected", version)
    assert traffic.tally.failures == [], traffic.tally.failures[:5]
    assert traffic.tally.ok == traffic.tally.sent
    assert traffic.tally.backends["vllm"] > 0
    assert set(traffic.tally.last_backend.values()) == {"ollama"}  # rolled back, and nothing moved since
    audit = store.audit_log()
    assert any(e.action == "route-back" and "rolled back automatically" in e.detail["reason"] for e in audit)
    decisions = [e.detail["decision"] for e in audit if e.action == "approval"]
    assert decisions == ["approve", "timeout", "reject"]
