"""The command Ollama host with real processes: Ollama's simulator started and stopped in the background by
``sh -c`` commands (a pid file and ``kill``, as an operator without Docker or systemd would), its models directory
kept, its access log written to a file; and the commands that fail, or cannot run, change nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from o2v.decommission.models import KeptResources
from o2v.decommission.ollama_services import CommandOllama
from o2v.decommission.restore import wait_healthy
from o2v.decommission.sim_commands import simulator_commands
from o2v.errors import DeployError
from o2v.servers.logs import AccessRecord, read_log
from o2v.simulate.process import free_port


@pytest.fixture
def simulator(tmp_path: Path):  # type: ignore[no-untyped-def]
    commands = simulator_commands(tmp_path, free_port(), ["--ttft-ms", "5", "--itl-ms", "1"])
    host = CommandOllama(commands.start, commands.stop, url=commands.url, models_dir=commands.models_dir,
                         timeout_s=30)  # fmt: skip
    yield commands, host
    if host.running():
        host.stop()


def test_start_stop_keeps_the_models_and_start_again(simulator) -> None:  # type: ignore[no-untyped-def]
    commands, host = simulator
    assert not host.running()
    host.start(None)
    wait_healthy(commands.url, 30)
    response = httpx.post(f"{commands.url}/api/generate", json={"model": "llama3.1:8b", "prompt": "hi",
                          "stream": False}, timeout=30)  # fmt: skip
    assert response.status_code == 200
    kept = host.stop()
    assert (kept.host, kept.paths) == ("command", [str(commands.models_dir)])
    assert not host.running()
    assert commands.models_dir.is_dir()
    host.start(kept)
    wait_healthy(commands.url, 30)
    assert host.running()
    access = [r for r in read_log(commands.log_file) if isinstance(r, AccessRecord)]
    assert ("127.0.0.1", "POST", "/api/generate") in {(r.client_ip, r.method, r.path) for r in access}


def test_a_failing_stop_command_is_named_and_ollama_keeps_running(simulator) -> None:  # type: ignore[no-untyped-def]
    commands, host = simulator
    host.start(None)
    wait_healthy(commands.url, 30)
    failing = CommandOllama(commands.start, ["sh", "-c", "echo 'supervisor: no such process' >&2; exit 7"],
                            url=commands.url, timeout_s=10)  # fmt: skip
    with pytest.raises(DeployError, match="exited 7 \\(supervisor: no such process\\)"):
        failing.stop()
    assert host.running()


def test_commands_that_cannot_run_are_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    host = CommandOllama(["touch", str(marker)], ["/nonexistent/ollama-stop"], url="http://127.0.0.1:9")
    assert host.find() is None
    assert "'/nonexistent/ollama-stop' not found" in host.not_found_reason()
    with pytest.raises(DeployError, match="cannot run here"):
        host.start(None)
    assert not marker.exists()
    empty = CommandOllama([], [], url="http://127.0.0.1:9")
    assert "start_command or ollama.stop_command is empty" in empty.not_found_reason()


def test_a_models_directory_that_is_gone_stops_the_restart(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    host = CommandOllama(["touch", str(marker)], ["true"], url="http://127.0.0.1:9")
    kept = KeptResources(host="command", container="command", paths=[str(tmp_path / "models")])
    with pytest.raises(DeployError, match="models directory .*models\\).*restore Ollama's models directory"):
        host.start(kept)
    assert not marker.exists()
