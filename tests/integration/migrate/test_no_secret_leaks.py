"""Secrets planted everywhere a user keeps them never come out: the whole rehearsal, then every output searched.

Planted in the scanned source tree (a URL with a password, an OpenAI-style key, a Hugging Face token, a JWT, a
Slack token in .env), in migration.yaml (Slack bot token, HF token, vLLM API key, gateway client keys) and in
O2V__ environment overrides. Searched afterwards: every file the run wrote (reports, CSV, JSON, Markdown,
compose files, process logs and state, the SQLite files byte for byte), every row of every store table, every
Prefect artifact, log and flow-run parameter, every Slack request body the stand-in received, and everything
printed to stdout/stderr or logged. The only file allowed to hold them is the configuration the test wrote.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from support.slack_api import SlackAPIServer

from o2v.errors import PhaseError
from o2v.rehearse import rehearse

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow, pytest.mark.timeout(600)]

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkLXVzZXIifQ.c2lnbmF0dXJlLXBsYW50ZWQtMTIz"
SLACK_TOKEN = "xoxb-planted-3333-SlackBotToken"
SOURCE_SECRETS = {
    "client.py": ('import ollama\nclient = ollama.Client(host="http://admin:hunter2@gpu-box:11434")\n', ["hunter2"]),
    "openai_client.py": (
        "from openai import OpenAI\n"
        'client = OpenAI(base_url="http://gpu-box:11434/v1", api_key="sk-live-PLANTEDa1b2c3d4e5f6")\n',
        ["sk-live-PLANTEDa1b2c3d4e5f6"],
    ),
    "fetch.js": (
        'fetch("http://gpu-box:11434/api/chat", {headers: {Authorization: "Bearer ' + JWT + '"}})\n'
        'const hf = ollama.pull({model: "x", insecure: false, token: "hf_PlantedSourceToken0123456789abcd"})\n',
        [JWT, "hf_PlantedSourceToken0123456789abcd"],
    ),
    ".env": (
        'OLLAMA_URL="http://gpu-box:11434/api/generate" SLACK_BOT_TOKEN=xoxb-planted-1111-SourceEnvToken\n'
        "SLACK_APP_TOKEN=xapp-1-planted-2222-SourceAppToken\n",
        ["xoxb-planted-1111-SourceEnvToken", "xapp-1-planted-2222-SourceAppToken"],
    ),
}
CONFIG_SECRETS = {
    "slack": {"bot_token": SLACK_TOKEN},
    "vllm": {"hf_token": "hf_PlantedConfigToken0123456789abcdef", "api_key": "vllm-config-key-planted-4444"},
    "cutover": {"client_api_keys": {"team-a": "client-key-planted-6666"}},
}
ENV_SECRETS = {
    "O2V__VLLM__API_KEY": "sk-env-planted-vllm-5555",  # overrides the file's key: this one is served
    "O2V__CUTOVER__CLIENT_API_KEYS": '{"team-b": "client-key-env-planted-7777"}',
}
PLANTED = [
    *(secret for _, found in SOURCE_SECRETS.values() for secret in found),
    SLACK_TOKEN, "hf_PlantedConfigToken0123456789abcdef", "vllm-config-key-planted-4444", "client-key-planted-6666",
    "sk-env-planted-vllm-5555", "client-key-env-planted-7777", "admin:hunter2",
]  # fmt: skip


def hits(where: str, text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [f"{where}: {secret}" for secret in PLANTED if secret.encode() in data]


def test_planted_secrets_appear_in_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    tree = tmp_path / "team-app"
    tree.mkdir()
    for name, (text, _) in SOURCE_SECRETS.items():
        (tree / name).write_text(text)
    for name, value in ENV_SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    workdir = tmp_path / "work"

    overrides = {**CONFIG_SECRETS, "slack": {**CONFIG_SECRETS["slack"], "channel": "#migration"}}
    failure: PhaseError | None = None
    with SlackAPIServer(token=SLACK_TOKEN) as slack:
        overrides["slack"]["base_url"] = slack.url
        try:
            rehearse(workdir, scan_paths=[str(tree)], config_overrides=overrides)
        except PhaseError as exc:
            # The validation gate may judge the simulators on a busy machine either way; a failed gate is one
            # more path (rollback, failure messages) whose output must be clean. Earlier phases must succeed.
            failure = exc
        slack_bodies = [json.dumps(r.body) for r in slack.requests]
        slack_messages = [json.dumps([m.text, m.blocks]) for m in slack.messages]

    assert failure is None or failure.phase == "validate", failure
    assert sum("smoke" in m and "succeeded" in m for m in slack_messages) == 1, "the run must reach the smoke test"
    found = hits("the flow's error", str(failure or ""))

    # The scan did find the planted clients, with their evidence redacted.
    (inventory_json,) = workdir.glob("reports/*/inventory/inventory.json")
    inventory = json.loads(inventory_json.read_text())
    evidence = [p["evidence"] for p in inventory["integration_points"]]
    assert any("http://***@gpu-box:11434" in line for line in evidence)
    assert any('api_key="***"' in line for line in evidence)

    # Every file the run wrote, byte for byte (SQLite and its WAL included); only the input config may hold them.
    written = [p for p in workdir.rglob("*") if p.is_file() and p.name != "migration.yaml"]
    assert any(p.suffix == ".csv" for p in written)
    assert any(p.suffix == ".yml" for p in written)
    for path in written:
        found += hits(str(path.relative_to(workdir)), path.read_bytes())

    # Every row of every table of the store.
    with sqlite3.connect(workdir / "o2v.db") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"phase_ledger", "samples", "state"} <= set(tables)
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from sqlite_master
                found += hits(f"table {table}", repr(row))

    # Prefect: artifacts, logs and flow-run parameters as the API holds them.
    found += prefect_hits()

    for index, body in enumerate(slack_bodies):
        found += hits(f"Slack request {index}", body)
    for index, message in enumerate(slack_messages):
        found += hits(f"Slack message {index}", message)
    out, err = capfd.readouterr()
    found += hits("stdout", out) + hits("stderr", err)
    found += hits("logs", "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records))
    assert found == []


def prefect_hits() -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # logs are shipped to the API in the background
    found: list[str] = []
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
        assert artifacts, "the run must have left artifacts, or this test searched nothing"
        for artifact in artifacts:
            found += hits(f"artifact {artifact.key}", json.dumps([artifact.data, artifact.description], default=str))
        offset = 0
        while batch := client.read_logs(limit=200, offset=offset):
            found += hits("Prefect logs", "\n".join(log.message for log in batch))
            offset += len(batch)
        for run in client.read_flow_runs():
            found += hits(f"flow run {run.name}", json.dumps(run.parameters, default=str))
    return found
