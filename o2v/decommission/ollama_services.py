"""Ollama outside Docker: a systemd unit (what Ollama's Linux installer creates) or the operator's own commands.

Both keep what a rollback needs by never touching it: the unit file (systemd) and Ollama's models directory.
The systemd host stops with ``systemctl disable --now`` so that a reboot does not bring Ollama back behind the
team's back, and restores with ``systemctl enable --now``. The command host runs the operator's start and stop
commands (supervisord, a plain process, a script) and judges "running" by Ollama answering ``/api/version``.
A command that is missing, fails or times out is a :class:`DeployError` naming the command and its output.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from o2v.decommission.models import KeptResources
from o2v.errors import DeployError
from o2v.store_schema import utcnow

# Where Ollama's Linux installer keeps the models of its ollama.service (user ollama, home /usr/share/ollama).
INSTALLER_MODELS_DIR = "/usr/share/ollama/.ollama/models"
SHOW_PROPERTIES = "LoadState,ActiveState,UnitFileState,FragmentPath,Environment"


def run_command(argv: list[str], timeout_s: float, *, what: str) -> subprocess.CompletedProcess[str]:
    """Run argv (no shell); a DeployError when it cannot start or times out. The caller judges the exit code.

    The output goes to files, not pipes: a start command that leaves Ollama running in the background (``sh -c
    'ollama serve &'``) would otherwise hold the pipes open and look like a command that never returns.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout_s, check=False
            )
        except FileNotFoundError as exc:
            raise DeployError(f"cannot {what}: {argv[0]!r} was not found ({shlex.join(argv)})") from exc
        except subprocess.TimeoutExpired as exc:
            raise DeployError(f"cannot {what}: {shlex.join(argv)} did not finish within {timeout_s:g} s") from exc
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, done.returncode, out.read(), err.read())


def _failed(argv: list[str], done: subprocess.CompletedProcess[str], what: str, after: str) -> DeployError:
    output = (done.stderr or done.stdout or "").strip().splitlines()
    return DeployError(
        f"cannot {what}: {shlex.join(argv)} exited {done.returncode} ({' | '.join(output[-3:]) or 'no output'}). "
        + after
    )


def _missing_dirs(kept: KeptResources | None) -> list[str]:
    return [f"models directory {p}" for p in (kept.paths if kept else []) if not Path(p).is_dir()]


def _gone(missing: list[str], how: str) -> DeployError:
    return DeployError(
        "cannot roll back to Ollama: the kept resources are gone (" + ", ".join(missing) + f"). What to do: {how}, "
        "pull its models again, then run o2v rollback --to-ollama."
    )


class SystemdOllama:
    """Ollama as a systemd unit (``ollama.systemd_unit``, called through ``ollama.systemctl_command``)."""

    def __init__(
        self, unit: str, *, systemctl: list[str] | None = None, models_dir: Path | None = None,
        timeout_s: float = 60.0,
    ) -> None:  # fmt: skip
        self.name = unit
        self.systemctl = list(systemctl or ["systemctl"])
        self.models_dir = models_dir
        self.timeout_s = timeout_s

    def _run(self, *args: str, what: str) -> subprocess.CompletedProcess[str]:
        return run_command([*self.systemctl, *args], self.timeout_s, what=what)

    def find(self) -> dict[str, str] | None:
        """The unit's properties (``systemctl show``), or None when systemd knows no such unit."""
        args = ["show", self.name, f"--property={SHOW_PROPERTIES}"]
        done = self._run(*args, what=f"inspect {self.name}")
        if done.returncode != 0:
            what = f"inspect {self.name}"
            raise _failed([*self.systemctl, *args], done, what, "What to do: check ollama.systemctl_command.")
        props = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        if props.get("LoadState", "not-found") == "not-found":
            return None
        return props

    def not_found_reason(self) -> str:
        return (
            f"Ollama's systemd unit {self.name!r} was not found (systemctl show: LoadState=not-found). What to do: "
            "set ollama.systemd_unit to the unit that runs Ollama (systemctl list-units 'ollama*')."
        )

    def require(self) -> dict[str, str]:
        props = self.find()
        if props is None:
            raise DeployError(self.not_found_reason())
        return props

    def running(self) -> bool:
        return self._run("is-active", "--quiet", self.name, what=f"ask whether {self.name} is active").returncode == 0

    def models_path(self, props: dict[str, str]) -> str:
        """ollama.models_dir, else OLLAMA_MODELS from the unit's environment, else the installer's directory."""
        if self.models_dir is not None:
            return str(self.models_dir)
        for item in shlex.split(props.get("Environment", "")):
            if item.startswith("OLLAMA_MODELS="):
                return item.split("=", 1)[1]
        return INSTALLER_MODELS_DIR

    def kept(self, handle: Any) -> KeptResources:
        props: dict[str, str] = handle
        return KeptResources(host="systemd", container=self.name, paths=[self.models_path(props)],
                             unit_file=props.get("FragmentPath", ""))  # fmt: skip

    def stop(self, timeout_s: int = 30) -> KeptResources:
        kept = self.kept(self.require())
        argv = [*self.systemctl, "disable", "--now", self.name]
        done = self._run("disable", "--now", self.name, what=f"stop {self.name}")
        if done.returncode != 0:
            raise _failed(argv, done, f"stop {self.name}", f"Check systemctl status {self.name}: Ollama may still run.")
        if self.running():
            raise DeployError(f"{self.name} is still active after {shlex.join(argv)}: check systemctl status "
                              f"{self.name}")  # fmt: skip
        kept.stopped_at = utcnow()
        return kept

    def check_kept(self, kept: KeptResources | None) -> dict[str, str]:
        props = self.find()
        missing = ([f"systemd unit {self.name}"] if props is None else []) + _missing_dirs(kept)
        if missing or props is None:
            raise _gone(missing, f"re-install Ollama's unit {self.name} (Ollama's Linux installer creates it)")
        return props

    def start(self, kept: KeptResources | None) -> float:
        self.check_kept(kept)
        argv = [*self.systemctl, "enable", "--now", self.name]
        began = time.perf_counter()
        done = self._run("enable", "--now", self.name, what=f"start {self.name}")
        if done.returncode != 0:
            raise _failed(argv, done, f"start {self.name}", f"Check systemctl status {self.name} and journalctl -u "
                          f"{self.name}; no client was routed back.")  # fmt: skip
        return time.perf_counter() - began

    def published_url(self) -> str | None:
        return None  # ollama.url says where the unit's Ollama listens (OLLAMA_HOST)


class CommandOllama:
    """Ollama started and stopped by the operator's commands (``ollama.start_command`` / ``stop_command``)."""

    name = "command"

    def __init__(
        self, start: list[str], stop: list[str], *, url: str, models_dir: Path | None = None, timeout_s: float = 60.0
    ) -> None:
        self.start_command, self.stop_command = list(start), list(stop)
        self.url = url.rstrip("/")
        self.models_dir = models_dir
        self.timeout_s = timeout_s

    def find(self) -> list[str] | None:
        """The commands, when both are given and their programs exist."""
        if not (self.start_command and self.stop_command):
            return None
        if any(shutil.which(argv[0]) is None for argv in (self.start_command, self.stop_command)):
            return None
        return [shlex.join(self.start_command), shlex.join(self.stop_command)]

    def not_found_reason(self) -> str:
        if not (self.start_command and self.stop_command):
            return ("ollama.host is 'command' but ollama.start_command or ollama.stop_command is empty. What to do: "
                    "give both, as argv lists (e.g. [supervisorctl, stop, ollama]).")  # fmt: skip
        absent = [argv[0] for argv in (self.start_command, self.stop_command) if shutil.which(argv[0]) is None]
        return (f"Ollama's start or stop command cannot run here: {', '.join(repr(a) for a in absent)} not found. "
                "What to do: fix ollama.start_command / ollama.stop_command (argv lists, no shell).")  # fmt: skip

    def require(self) -> list[str]:
        found = self.find()
        if found is None:
            raise DeployError(self.not_found_reason())
        return found

    def running(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/version", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def kept(self, handle: Any) -> KeptResources:
        return KeptResources(host="command", container=self.name,
                             paths=[str(self.models_dir)] if self.models_dir else [])  # fmt: skip

    def stop(self, timeout_s: int = 30) -> KeptResources:
        kept = self.kept(self.require())
        done = run_command(self.stop_command, self.timeout_s, what="stop Ollama")
        if done.returncode != 0:
            raise _failed(self.stop_command, done, "stop Ollama", "What to do: fix ollama.stop_command.")
        # A stop command may only signal the process: Ollama is stopped when it no longer answers.
        deadline = time.monotonic() + self.timeout_s
        while self.running():
            if time.monotonic() > deadline:
                raise DeployError(f"Ollama still answers {self.url} {self.timeout_s:g} s after "
                                  f"{shlex.join(self.stop_command)}")  # fmt: skip
            time.sleep(0.1)
        kept.stopped_at = utcnow()
        return kept

    def check_kept(self, kept: KeptResources | None) -> list[str]:
        found = self.require()
        missing = _missing_dirs(kept)
        if missing:
            raise _gone(missing, "restore Ollama's models directory")
        return found

    def start(self, kept: KeptResources | None) -> float:
        self.check_kept(kept)
        began = time.perf_counter()
        done = run_command(self.start_command, self.timeout_s, what="start Ollama")
        if done.returncode != 0:
            raise _failed(self.start_command, done, "start Ollama",
                          "What to do: fix ollama.start_command; no client was routed back.")  # fmt: skip
        return time.perf_counter() - began

    def published_url(self) -> str | None:
        return None
