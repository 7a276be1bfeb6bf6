"""The systemd Ollama host against a ``systemctl`` stand-in on PATH (no systemd in the test machine): the argv it
runs, what it keeps, and every refusal. The stand-in keeps the unit's state in files and logs each call."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from o2v.config import Settings
from o2v.decommission.models import KeptResources
from o2v.decommission.ollama_host import DockerOllama, ollama_host
from o2v.decommission.ollama_services import INSTALLER_MODELS_DIR, CommandOllama, SystemdOllama
from o2v.errors import ConfigError, DeployError

STANDIN = r"""#!/bin/sh
# systemctl stand-in: state in $STATE (exists, active, env, deny), every call appended to $STATE/calls
echo "$*" >> "$STATE/calls"
cmd=$1; shift
case "$cmd" in
  show)
    if [ -f "$STATE/exists" ]; then
      echo "LoadState=loaded"
      if [ -f "$STATE/active" ]; then echo "ActiveState=active"; else echo "ActiveState=inactive"; fi
      echo "UnitFileState=enabled"
      echo "FragmentPath=/etc/systemd/system/$1"
      echo "Environment=$(cat "$STATE/env" 2>/dev/null)"
    else
      echo "LoadState=not-found"; echo "ActiveState=inactive"
    fi ;;
  is-active) [ -f "$STATE/active" ] ;;
  disable|enable)
    if [ -f "$STATE/deny" ]; then echo "Failed to $cmd unit: Access denied" >&2; exit 1; fi
    if [ "$cmd" = disable ]; then rm -f "$STATE/active"; else touch "$STATE/active"; fi ;;
  *) echo "unknown command $cmd" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    script = bin_dir / "systemctl"
    script.write_text(STANDIN)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STATE", str(state))
    return state


def calls(state: Path) -> list[str]:
    return (state / "calls").read_text().splitlines() if (state / "calls").exists() else []


def test_stop_disables_the_unit_keeps_it_and_its_models_and_start_enables_it(state: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (state / "exists").touch()
    (state / "active").touch()
    (state / "env").write_text(f'"OLLAMA_HOST=0.0.0.0:11434" OLLAMA_MODELS={models}')
    host = SystemdOllama("ollama.service")
    assert host.running()
    kept = host.stop()
    assert (kept.host, kept.container, kept.paths) == ("systemd", "ollama.service", [str(models)])
    assert kept.unit_file == "/etc/systemd/system/ollama.service"
    assert kept.stopped_at is not None
    assert not host.running()
    assert "disabled and stopped" in kept.stopped()
    host.start(kept)
    assert host.running()
    props = "--property=LoadState,ActiveState,UnitFileState,FragmentPath,Environment"
    assert calls(state) == [
        "is-active --quiet ollama.service",
        f"show ollama.service {props}", "disable --now ollama.service", "is-active --quiet ollama.service",
        "is-active --quiet ollama.service",
        f"show ollama.service {props}", "enable --now ollama.service",
        "is-active --quiet ollama.service",
    ]  # fmt: skip


def test_models_dir_defaults_to_the_installers_and_the_setting_wins(state: Path, tmp_path: Path) -> None:
    (state / "exists").touch()
    assert SystemdOllama("ollama.service").kept(SystemdOllama("ollama.service").require()).paths == [
        INSTALLER_MODELS_DIR
    ]
    host = SystemdOllama("ollama.service", models_dir=tmp_path)
    assert host.kept(host.require()).paths == [str(tmp_path)]


def test_a_unit_that_does_not_exist_is_named_and_nothing_runs(state: Path) -> None:
    host = SystemdOllama("ollama-gpu.service")
    assert host.find() is None
    assert host.not_found_reason().startswith("Ollama's systemd unit 'ollama-gpu.service' was not found")
    with pytest.raises(DeployError, match="was not found"):
        host.stop()
    with pytest.raises(DeployError, match="kept resources are gone \\(systemd unit ollama-gpu.service\\)"):
        host.start(None)
    assert not any(c.startswith(("disable", "enable")) for c in calls(state))


def test_systemctl_refusing_is_a_deploy_error_with_its_message_and_ollama_keeps_running(state: Path) -> None:
    (state / "exists").touch()
    (state / "active").touch()
    (state / "deny").touch()
    host = SystemdOllama("ollama.service")
    with pytest.raises(DeployError, match="systemctl disable --now ollama.service exited 1 \\(Failed to disable unit: "
                       "Access denied\\)"):  # fmt: skip
        host.stop()
    assert host.running()


def test_a_models_directory_that_is_gone_stops_the_restart(state: Path, tmp_path: Path) -> None:
    (state / "exists").touch()
    kept = KeptResources(host="systemd", container="ollama.service", paths=[str(tmp_path / "gone")])
    with pytest.raises(DeployError, match=f"models directory {tmp_path / 'gone'}"):
        SystemdOllama("ollama.service").start(kept)
    assert not any(c.startswith("enable") for c in calls(state))


def test_a_missing_systemctl_is_named(tmp_path: Path) -> None:
    host = SystemdOllama("ollama.service", systemctl=[str(tmp_path / "no-systemctl")])
    with pytest.raises(DeployError, match="no-systemctl' was not found"):
        host.find()


def test_the_host_follows_the_setting_and_docker_stays_the_default(tmp_path: Path) -> None:
    assert isinstance(ollama_host(Settings()), DockerOllama)
    assert isinstance(ollama_host(Settings(ollama={"host": "systemd"})), SystemdOllama)  # type: ignore[arg-type]
    command = Settings(ollama={"host": "command", "start_command": ["true"], "stop_command": ["true"]})  # type: ignore[arg-type]
    assert isinstance(ollama_host(command), CommandOllama)


def test_a_command_host_without_commands_is_a_configuration_error(tmp_path: Path) -> None:
    from o2v.config import load_settings

    path = tmp_path / "migration.yaml"
    path.write_text("ollama:\n  host: command\n  stop_command: [supervisorctl, stop, ollama]\n")
    with pytest.raises(ConfigError, match="host 'command' needs both start_command and stop_command"):
        load_settings(path)
