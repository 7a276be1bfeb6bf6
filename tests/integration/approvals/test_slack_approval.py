"""Approvals end to end: a paused Prefect flow run, Slack's Web API and Socket Mode stand-ins, the real listener."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from support.slack_api import APP_TOKEN, TOKEN, SlackAPIServer
from support.slack_socket import SocketModeServer, button_click

from o2v.approvals.blocks import ACTION_PREFIX
from o2v.approvals.models import Answer, Question
from o2v.approvals.pause import ask, current_flow_run_id
from o2v.approvals.socket_mode import listen
from o2v.config import Settings
from o2v.notify import SlackNotifier
from o2v.store import Store

pytestmark = pytest.mark.usefixtures("prefect_harness")
APPROVER, STRANGER, GROUP_MEMBER = "U0APPROVER", "U0STRANGER", "U0ONCALL"


@pytest.fixture
def slack() -> Iterator[tuple[SlackAPIServer, SocketModeServer]]:
    with SlackAPIServer() as api, SocketModeServer(api) as socket:
        api.usergroups["S0ONCALL"] = [GROUP_MEMBER]
        yield api, socket


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'o2v.db'}")


@pytest.fixture
def settings(slack: tuple[SlackAPIServer, SocketModeServer], tmp_path: Path) -> Settings:
    api, _ = slack
    return Settings(
        workdir=tmp_path,
        slack={"bot_token": TOKEN, "app_token": APP_TOKEN, "base_url": api.url, "approvers": [APPROVER, "S0ONCALL"]},
    )  # type: ignore[arg-type]


class Listening:
    """The Socket Mode listener in its own thread and loop, as `o2v slack listen` runs it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(settings, store),))

    async def _run(self, settings: Settings, store: Store) -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(listen(settings, audit=store, stop=self.stop, ready=ready))
        await ready.wait()
        self.ready.set()
        await task

    def __enter__(self) -> Listening:
        self.thread.start()
        assert self.ready.wait(15), "the listener did not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)


def run_question(settings: Settings, store: Store, timeout_s: float, key: str = "stage-1") -> dict[str, Any]:
    """A flow that asks one question; runs in a thread so the test can answer it."""
    outcome: dict[str, Any] = {}

    @flow(name="approval-test")
    def waiting() -> Answer:
        evidence = "| metric | value |\n|---|---|\n| p95 | 1.0 |"
        question = Question(flow_run_id=current_flow_run_id(), key=key, migration_id="m1",
                            title="Move ci-bot to vLLM", evidence_markdown=evidence)
        outcome["run"] = question.flow_run_id
        notifier = SlackNotifier(TOKEN, "#llm-migration", base_url=settings.slack.base_url, store=store)
        return ask(question, asker=notifier, audit=store, timeout_s=timeout_s, poll_interval_s=0.5)

    def target() -> None:
        outcome["answer"] = waiting()

    outcome["thread"] = threading.Thread(target=target)
    outcome["thread"].start()
    return outcome


def question_message(api: SlackAPIServer, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in api.messages:
            if any(b.get("type") == "actions" for b in message.blocks):
                return message
        time.sleep(0.1)
    raise AssertionError("no approval message with buttons was posted")


def click(socket: SocketModeServer, message: Any, user: str, decision: str) -> float:
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    [button] = [e for e in actions["elements"] if e["action_id"] == ACTION_PREFIX + decision]
    payload = button_click(message.ts, message.channel, user, button["action_id"], button["value"])
    payload["message"]["blocks"] = message.blocks
    return socket.click(payload)


def decisions(store: Store) -> list[tuple[str, str, str]]:
    """The audited decisions as (actor, decision, target): one entry per decision, whoever or whatever answered."""
    return [(e.actor, e.detail["decision"], e.target) for e in store.audit_log() if e.action == "approval"]


def wait_paused(run_id_holder: dict[str, Any], timeout_s: float = 30) -> None:
    from prefect import get_client

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "run" in run_id_holder:
            with get_client(sync_client=True) as client:
                state = client.read_flow_run(run_id_holder["run"]).state
            if state is not None and state.is_paused():
                return
        time.sleep(0.2)
    raise AssertionError("the flow run never paused")


def test_an_approver_clicks_approve_in_slack_and_the_run_resumes(
    slack: tuple[SlackAPIServer, SocketModeServer], settings: Settings, store: Store
) -> None:
    api, socket = slack
    with Listening(settings, store):
        outcome = run_question(settings, store, timeout_s=60)
        wait_paused(outcome)
        message = question_message(api)
        ack_s = click(socket, message, APPROVER, "approve")
        outcome["thread"].join(60)
    answer = outcome["answer"]
    assert (answer.decision, answer.via, answer.approver) == ("approve", "slack", APPROVER)
    assert ack_s < 3.0, "Slack wants the acknowledgement within 3 s"
    decided = " ".join(str(b) for b in message.blocks)
    assert f"<@{APPROVER}>" in decided
    assert "approve" in decided
    assert not any(b["type"] == "actions" for b in message.blocks), "the buttons are gone once decided"
    # The listener resumed the run, the flow saw the answer: one decision, one entry.
    assert decisions(store) == [(f"slack:{APPROVER}", "approve", "m1/stage-1")]


def test_a_stranger_is_refused_and_a_group_member_rejects(
    slack: tuple[SlackAPIServer, SocketModeServer], settings: Settings, store: Store
) -> None:
    api, socket = slack
    with Listening(settings, store):
        outcome = run_question(settings, store, timeout_s=60)
        wait_paused(outcome)
        message = question_message(api)
        click(socket, message, STRANGER, "approve")
        deadline = time.monotonic() + 10
        while not api.ephemeral and time.monotonic() < deadline:
            time.sleep(0.1)
        assert api.ephemeral[0]["user"] == STRANGER
        assert "not in slack.approvers" in api.ephemeral[0]["text"]
        assert outcome["thread"].is_alive(), "a refused click leaves the run paused"
        click(socket, message, GROUP_MEMBER, "reject")
        outcome["thread"].join(60)
    assert (outcome["answer"].decision, outcome["answer"].approver) == ("reject", GROUP_MEMBER)
    refused = [e for e in store.audit_log() if e.action == "approval-refused"]
    assert [e.actor for e in refused] == [f"slack:{STRANGER}"]
    assert decisions(store) == [(f"slack:{GROUP_MEMBER}", "reject", "m1/stage-1")]


def test_no_answer_in_time_is_a_no(
    slack: tuple[SlackAPIServer, SocketModeServer], settings: Settings, store: Store
) -> None:
    api, _ = slack
    outcome = run_question(settings, store, timeout_s=2)
    outcome["thread"].join(60)
    answer = outcome["answer"]
    assert (answer.decision, answer.via) == ("timeout", "timeout")
    [message] = [m for m in api.messages if m.thread_ts is not None and m.edits == 1]
    assert "timeout" in " ".join(str(b) for b in message.blocks)
    assert not any(b["type"] == "actions" for b in message.blocks), "no buttons left on a closed question"
    assert decisions(store) == [("timeout", "timeout", "m1/stage-1")]


def test_the_prefect_resume_form_refuses_a_bad_answer_and_takes_a_good_one(
    slack: tuple[SlackAPIServer, SocketModeServer], settings: Settings, store: Store
) -> None:
    from prefect.flow_runs import resume_flow_run

    outcome = run_question(settings, store, timeout_s=60)
    wait_paused(outcome)
    with pytest.raises(RuntimeError, match="(?i)validat|schema"):
        resume_flow_run(outcome["run"], run_input={"decision": "maybe"})
    assert outcome["thread"].is_alive()
    resume_flow_run(outcome["run"], run_input={"decision": "approve", "comment": "numbers look fine",
                                               "approver": "dana"})
    outcome["thread"].join(60)
    answer = outcome["answer"]
    assert (answer.decision, answer.via, answer.approver, answer.comment) == (
        "approve", "prefect-ui", "dana", "numbers look fine")
    assert decisions(store) == [("prefect-ui:dana", "approve", "m1/stage-1")]
