"""The scheduled baseline-monitor flow against the Ollama simulator and a local Slack Web API server.

Several runs in a row, as the schedule would make them: samples are recorded each time, and Slack hears about
a crossing of the "outgrown" thresholds once, again only after a recovery, and about an outage once.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.slack_api import TOKEN, SlackAPIServer

from flows.baseline import baseline_monitor
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

WINDOW_S = 3.0


@pytest.fixture(scope="module")
def ollama() -> Iterator[SimulatorProcess]:
    args = ["--num-parallel", "2", "--ttft-ms", "10", "--itl-ms", "1", "--response-tokens", "12"]
    with SimulatorProcess("ollama", args=args) as sim:
        yield sim


@pytest.fixture
def slack() -> Iterator[SlackAPIServer]:
    with SlackAPIServer() as server:
        yield server


def set_faults(sim: SimulatorProcess, **faults: object) -> None:
    request = urllib.request.Request(
        sim.url + "/_sim/faults",
        data=json.dumps(faults).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200


def write_config(tmp_path: Path, ollama_url: str, slack: SlackAPIServer) -> str:
    config = {
        "migration_id": "baseline-test",
        "workdir": str(tmp_path / "work"),
        "ollama": {"url": ollama_url, "timeout_s": 5, "log_source": "none"},
        "store": {"url": f"sqlite:///{tmp_path / 'o2v.db'}"},
        "slack": {"bot_token": TOKEN, "channel": "#llm-ops", "base_url": slack.url},
        "thresholds": {"min_samples": 4, "outgrown_p95_e2e_ms": 400, "max_error_rate": 0.2, "max_timeout_rate": 0.2},
        "monitor": {
            "probe_concurrency": [2],
            "probe_requests_per_level": 4,
            "probe_max_tokens": 8,
            "probe_max_duration_s": 30,
            "window_s": WINDOW_S,
        },
    }
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_one_alert_per_crossing_over_several_runs(tmp_path, ollama, slack):
    config = write_config(tmp_path, ollama.url, slack)
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    set_faults(ollama, reset=True)
    try:
        first = baseline_monitor(config_path=config)
        assert first.probe.ok, first.probe.error
        assert first.verdict.status == "pass", first.verdict.reasons
        assert first.action == "none"
        assert store.count_samples(source="probe", backend="ollama") == 4

        set_faults(ollama, added_latency_ms=600)  # every request now takes > 600 ms: p95 crosses 400 ms
        crossed = baseline_monitor(config_path=config)
        still = baseline_monitor(config_path=config)
        assert crossed.verdict.status == "fail"
        assert crossed.action == "alert_outgrown"
        assert still.verdict.status == "fail"
        assert still.action == "none"

        set_faults(ollama, reset=True)
        time.sleep(WINDOW_S + 0.5)  # the slow samples leave the judged window
        recovered = baseline_monitor(config_path=config)
        assert recovered.verdict.status == "pass", recovered.verdict.reasons
        assert recovered.action == "recovered"

        set_faults(ollama, added_latency_ms=600)
        again = baseline_monitor(config_path=config)
        assert again.action == "alert_outgrown"
    finally:
        set_faults(ollama, reset=True)

    alerts = slack.top_level()
    assert len(alerts) == 2, [a.text for a in alerts]
    text = alerts[0].blocks[0]["text"]["text"]
    assert f"Ollama at {ollama.url} has outgrown its load: p95 e2e latency" in text
    assert "&gt; 400 ms threshold (ollama," in text
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in alerts[0].blocks[1]["fields"]}
    assert fields["*p95 e2e latency*"].endswith(" s")
    assert Path(fields["*GX Data Docs*"]).is_file()
    assert store.count_samples(source="probe", backend="ollama") == 20
    assert store.get_state(f"baseline-monitor:{ollama.url}")["alerts_sent"] == 2
    assert [e.action for e in store.audit_log()] == ["alert_outgrown", "recovered", "alert_outgrown"]


def test_unreachable_ollama_is_a_recorded_failed_probe_and_one_alert(tmp_path, slack, port):
    config = write_config(tmp_path, f"http://127.0.0.1:{port}", slack)  # nothing listens there
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    runs = [baseline_monitor(config_path=config) for _ in range(2)]
    assert [r.probe.ok for r in runs] == [False, False]
    assert [r.action for r in runs] == ["alert_unreachable", "none"]
    assert runs[0].verdict.status == "inconclusive"  # failed-probe markers are not latencies
    failed = store.samples(source="probe", backend="ollama")
    assert [(s.status, s.error_kind) for s in failed] == [(0, "probe_failed")] * 2
    (alert,) = slack.top_level()
    assert alert.text.startswith(":rotating_light: Ollama at http://127.0.0.1:")
    assert "did not answer the baseline probe" in alert.text


def test_a_broken_slack_never_fails_the_flow(tmp_path, ollama, slack, caplog):
    config = write_config(tmp_path, ollama.url, slack)
    slack.fail_with("channel_not_found", count=10)
    set_faults(ollama, added_latency_ms=600)
    try:
        report = baseline_monitor(config_path=config)
    finally:
        set_faults(ollama, reset=True)
    assert report.action == "alert_outgrown"
    assert slack.top_level() == []
    # The flow logs prints (log_prints=True): the console fallback lands in the flow run's log.
    assert "Slack message not delivered (SlackApiError: channel_not_found)" in caplog.text
    assert "[o2v warning] Ollama at" in caplog.text
