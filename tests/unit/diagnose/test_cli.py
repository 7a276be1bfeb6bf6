"""``o2v diagnose`` and ``o2v logs`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from o2v.cli import app

DATA = Path(__file__).parents[2] / "data" / "ollama_logs"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("O2V_CONFIG", raising=False)


def test_logs_json_prints_one_record_per_line() -> None:
    result = CliRunner().invoke(app, ["logs", str(DATA / "journald_v0_1.log"), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["kind"] for r in records] == ["app", "app", "app", "access", "access"]
    assert records[3]["latency_s"] == pytest.approx(4.871920032)


def test_logs_summary_shows_config_and_unparsed_sample() -> None:
    result = CliRunner().invoke(app, ["logs", str(DATA / "docker_v0_9.log")])
    assert result.exit_code == 0, result.output
    assert "OLLAMA_NUM_PARALLEL=2" in result.output
    assert "3 unparsed" in result.output
    assert "line 38: this is garbage" in result.output


def test_logs_foreign_format_fails_with_a_sample() -> None:
    result = CliRunner().invoke(app, ["logs", str(DATA / "nginx_access.log")])
    assert result.exit_code == 1
    assert "4 unparsed" in result.output
    assert "does not look like an Ollama log" in result.output


def test_logs_missing_file() -> None:
    result = CliRunner().invoke(app, ["logs", "nope.log"])
    assert result.exit_code == 2
    assert "expected an Ollama log file" in result.output


def test_diagnose_from_a_log_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "d" / "diagnosis.json"
    result = CliRunner().invoke(app, ["diagnose", "--log", str(DATA / "docker_v0_9.log"), "--json", str(out),
                                      "--no-store", "--sign", "informal_coordination"])
    assert result.exit_code == 0, result.output
    assert "# Diagnosis:" in result.output
    data = json.loads(out.read_text())
    assert data["verdict"] in {"migrate", "stay", "inconclusive"}
    assert data["configured_num_parallel"] == 2
    assert data["probe"] is None  # only a log: no request was sent
    assert {s["id"]: s["status"] for s in data["signs"]}["informal_coordination"] == "present"


def test_diagnose_unreachable_url_is_not_a_crash(port: int) -> None:
    result = CliRunner().invoke(app, ["diagnose", "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 0, result.output
    assert "inconclusive" in result.output
    assert "probe: ServerUnreachable" in result.output


def test_diagnose_rejects_unknown_signs() -> None:
    result = CliRunner().invoke(app, ["diagnose", "--log", str(DATA / "docker_v0_9.log"), "--sign", "vibes"])
    assert result.exit_code == 2
    assert "unknown --sign" in result.output
