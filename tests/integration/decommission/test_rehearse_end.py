"""`o2v rehearse` ends with Ollama's decommission, without Docker: the decommission the cutover scheduled runs a few
seconds later, approved, Ollama's simulator stopped through the command host with its models kept, the final compose
written, a rollback to Ollama and forward again; `--straggler`: a client calling Ollama directly blocks it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

ROOT = Path(__file__).resolve().parents[3]
CLIENTS = ["ci-bot", "notebooks", "unnamed@127.0.0.1", "unnamed@127.0.0.3"]


def _rehearse(tmp_path: Path, *flags: str) -> tuple[int, str, dict]:  # type: ignore[type-arg]
    """`o2v rehearse` as a user runs it, in a process of its own against the session's Prefect API (in-process,
    a second CLI run found Prefect's console log handler still writing to the first run's closed output)."""
    from prefect.settings import PREFECT_API_URL

    summary = tmp_path / "summary.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    if PREFECT_API_URL.value():
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    command = [sys.executable, "-c", "from o2v.cli import main; main()", "rehearse", "--workdir", str(tmp_path / "r"),
               "--json", str(summary), *flags]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    output = done.stdout + done.stderr
    assert summary.exists(), output[-5000:]
    return done.returncode, output, json.loads(summary.read_text())


def test_the_rehearsal_decommissions_rolls_back_to_ollama_and_forward_again(tmp_path: Path) -> None:
    code, output, data = _rehearse(tmp_path)
    assert code == 0, output
    assert data["status"] == "decommissioned"
    end = data["decommission"]
    # Scheduled by the cutover flow itself, once (the store keeps the idempotency key redacted, as any *_key).
    assert end["scheduled"]["generation"] == 0
    assert end["scheduled"]["flow_run_id"] in output
    assert (end["outcome"], end["approved_by"], end["host"]) == ("decommissioned", "rehearsal", "command")
    assert end["container_stopped"]
    assert end["volume_kept"]
    assert end["kept"] == [str(tmp_path / "r" / "ollama" / "models")]
    assert [Path(p).name for p in end["final_compose"]] == [
        "docker-compose.gateway.yml", "docker-compose.side-by-side.yml",
    ]  # fmt: skip
    assert end["ollama_commented_out"]
    assert end["rollback"]["container"] == "command"
    assert end["ollama_answers_after_rollback"]
    assert end["clients_back_on_ollama"] == CLIENTS
    assert end["forward_again"] == "decommissioned"
    assert end["traffic_ok"] == end["traffic_sent"] > 0
    assert data["cutover"]["clients"]["failed"] == 0
    for line in ("  outcome      decommissioned", "Ollama commented out", "rollback to Ollama: healthy after",
                 "  forward again: decommissioned"):  # fmt: skip
        assert line in output


def test_a_client_calling_ollama_directly_blocks_the_decommission_and_is_named(tmp_path: Path) -> None:
    code, output, data = _rehearse(tmp_path, "--straggler")
    assert code == 1, output
    assert data["status"] == "decommission blocked"
    end = data["decommission"]
    assert end["outcome"] == "blocked"
    assert end["straggler_address"] == "127.0.0.2"
    assert [(s["address"], s["method"], s["path"], s["requests"], s["model"]) for s in end["stragglers"]] == [
        ("127.0.0.2", "POST", "/api/generate", 3, "llama3.1:8b"),
    ]
    assert not end["container_stopped"]
    assert end["rollback"] is None
    assert "Ollama's decommission was blocked" in output
    assert "127.0.0.2 called Ollama directly: 3 x POST /api/generate (model: llama3.1:8b)" in output
