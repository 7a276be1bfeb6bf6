"""Slack notifications against a local server that speaks the Slack Web API: threads, retries, fallbacks."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from support.slack_api import TOKEN, SlackAPIServer

from o2v.config import Settings
from o2v.notify import ConsoleNotifier, SlackNotifier, notifier_from_settings, phase_blocks
from o2v.store import Store


@pytest.fixture
def slack() -> Iterator[SlackAPIServer]:
    with SlackAPIServer() as server:
        yield server


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'o2v.db'}")


def notifier(slack: SlackAPIServer, store: Store | None, token: str = TOKEN) -> tuple[SlackNotifier, io.StringIO]:
    out = io.StringIO()
    fallback = ConsoleNotifier(out, artifacts=False)
    return SlackNotifier(token, "#llm-migration", base_url=slack.url, store=store, fallback=fallback), out


def test_phases_are_threaded_under_one_parent_kept_in_the_store(slack, store):
    first, _ = notifier(slack, store)
    first.phase("m1", "diagnose", "succeeded", {"effective parallelism": "1.0"}, flow_run_url="http://ui/runs/1")
    first.phase("m1", "plan", "succeeded", {"max_num_seqs": "64"})
    # A later flow run (a new process) answers in the same thread, found through the store.
    second, _ = notifier(slack, store)
    second.phase("m1", "deploy", "failed", {"reason": "no GPU"})

    (parent,) = slack.top_level()
    replies = slack.replies(parent.ts)
    assert [r.text for r in replies] == [
        ":white_check_mark: diagnose: succeeded (migration m1)",
        ":white_check_mark: plan: succeeded (migration m1)",
        ":x: deploy: failed (migration m1)",
    ]
    assert store.get_state("slack.thread.m1") == {"channel": parent.channel, "ts": parent.ts}
    assert parent.edits == 3
    assert "latest: :x: deploy: failed" in parent.blocks[0]["text"]["text"]
    fields = replies[0].blocks[1]["fields"]
    assert fields == [{"type": "mrkdwn", "text": "*effective parallelism*\n1.0"}]
    assert "<http://ui/runs/1|Prefect flow run>" in replies[0].blocks[-1]["elements"][0]["text"]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in slack.requests)


def test_each_migration_gets_its_own_thread(slack):
    notify, _ = notifier(slack, None)
    notify.phase("a", "plan", "succeeded", {})
    notify.phase("b", "plan", "succeeded", {})
    notify.phase("a", "deploy", "succeeded", {})
    parents = slack.top_level()
    assert len(parents) == 2
    assert [len(slack.replies(p.ts)) for p in parents] == [2, 1]


def test_rate_limit_is_retried_after_retry_after(slack):
    notify, out = notifier(slack, None)
    slack.rate_limit(2, retry_after_s=0)
    notify.alert("Ollama is outgrown", figures={"p95 e2e": "12.4 s"})
    statuses = [r.status for r in slack.calls("chat.postMessage")]
    assert statuses == [429, 429, 200]
    assert notify.failures == 0
    assert out.getvalue() == ""
    (message,) = slack.top_level()
    assert message.text == ":warning: Ollama is outgrown"


def test_rate_limit_past_the_retries_falls_back_to_the_console(slack, caplog):
    notify, out = notifier(slack, None)
    slack.rate_limit(10, retry_after_s=0)
    notify.phase("m1", "validate", "failed", {"p95 ratio": "1.4x"})  # must not raise
    assert notify.failures == 1
    assert "[o2v] m1 | validate: failed" in out.getvalue()
    assert "p95 ratio: 1.4x" in out.getvalue()
    assert "Slack message not delivered" in caplog.text


@pytest.mark.parametrize("error", ["invalid_auth", "channel_not_found", "not_in_channel"])
def test_slack_errors_never_raise(slack, error):
    notify, out = notifier(slack, None)
    slack.fail_with(error, count=5)
    notify.phase("m1", "plan", "succeeded", {})
    notify.alert("hello")
    assert notify.failures == 2
    assert "plan: succeeded" in out.getvalue()
    assert "hello" in out.getvalue()


def test_wrong_token_is_reported_not_raised(slack):
    notify, out = notifier(slack, None, token="xoxb-wrong")
    notify.alert("x")
    assert notify.failures == 1
    assert "[o2v warning] x" in out.getvalue()


def test_server_errors_and_unreachable_slack_fall_back_quickly(slack):
    notify, out = notifier(slack, None)
    slack.fail_status(500, count=3)
    notify.alert("one")
    gone = SlackNotifier(
        TOKEN, "#c", base_url="http://127.0.0.1:9/api/", fallback=ConsoleNotifier(out, artifacts=False)
    )
    started = time.monotonic()
    gone.phase("m1", "plan", "succeeded", {"k": "v"})
    assert time.monotonic() - started < 10
    assert notify.failures == 1
    assert gone.failures == 1
    assert "one" in out.getvalue()
    assert "plan: succeeded" in out.getvalue()


def test_auth_check_names_the_bot(slack):
    notify, _ = notifier(slack, None)
    assert notify.check() == "o2v-bot"


def test_blocks_split_fields_and_escape_control_characters():
    figures = {f"figure {i}": f"<{i}> & more" for i in range(12)}
    blocks = phase_blocks("m<1>", "plan", "succeeded", figures, None)
    assert [len(b.get("fields", [])) for b in blocks] == [0, 10, 2, 0]
    assert blocks[1]["fields"][0]["text"] == "*figure 0*\n&lt;0&gt; &amp; more"
    assert blocks[-1]["elements"][0]["text"] == "migration `m&lt;1&gt;`"


def test_notifier_from_settings_chooses_by_token(slack, store):
    assert isinstance(notifier_from_settings(Settings()), ConsoleNotifier)
    chosen = notifier_from_settings(
        Settings(slack={"bot_token": TOKEN, "channel": "#ops", "base_url": slack.url}), store=store
    )
    assert isinstance(chosen, SlackNotifier)
    chosen.alert("configured")
    assert slack.top_level()[0].channel == slack.channels["ops"]


def test_console_notifier_prints_figures_and_link():
    out = io.StringIO()
    ConsoleNotifier(out).phase("m1", "plan", "succeeded", {"gpu": "H100"}, flow_run_url="http://ui/r/1")
    assert out.getvalue() == "[o2v] m1 | plan: succeeded\n    gpu: H100\n    flow run: http://ui/r/1\n"


def test_a_stored_thread_that_no_longer_exists_starts_a_new_one(slack, store):
    store.set_state("slack.thread.m1", {"channel": "C00000001", "ts": "1600000000.000001"})
    notify, out = notifier(slack, store)
    notify.phase("m1", "plan", "succeeded", {})
    (parent,) = slack.top_level()
    assert [r.text for r in slack.replies(parent.ts)] == [":white_check_mark: plan: succeeded (migration m1)"]
    assert store.get_state("slack.thread.m1") == {"channel": parent.channel, "ts": parent.ts}
    assert notify.failures == 0
    assert out.getvalue() == ""
