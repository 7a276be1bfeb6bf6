"""vLLM (or a simulator) as a local process: bare-metal hosts running ``vllm serve``, and ``o2v rehearse``.

A small JSON state file per server (pid, the process's kernel start time, fingerprint, log path) lets a
re-run in a new Python process find the server it started earlier. The kernel start time guards against a
recycled pid: a state file never makes o2v adopt, or kill, somebody else's process.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from pydantic import BaseModel

from o2v.deploy.base import Progress, bind_address, kept_log_path, last_lines
from o2v.deploy.health import wait_for_health
from o2v.deploy.results import BackendName, Deployment, DeploymentStatus, TeardownResult
from o2v.deploy.spec import LaunchSpec
from o2v.deploy.vram import read_vram
from o2v.errors import DeployError


class ProcessState(BaseModel):
    pid: int
    start_ticks: int | None
    fingerprint: str
    log_path: str
    url: str
    command: list[str]


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time since boot); None where /proc does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text.rsplit(")", 1)[1].split()[19])


def _alive(pid: int, start_ticks: int | None) -> bool:
    try:
        os.waitpid(
            pid, os.WNOHANG
        )  # reap it if it is our own exited child, so it does not linger as a zombie
    except ChildProcessError:
        pass
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.exists():
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        return fields[0] != "Z" and (start_ticks is None or int(fields[19]) == start_ticks)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind_address(host), port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def process_env(spec: LaunchSpec, env: dict[str, str]) -> dict[str, str]:
    """The caller's environment plus the spec's; GPUs are chosen with CUDA_VISIBLE_DEVICES, the process
    counterpart of a Docker device request (an explicit CUDA_VISIBLE_DEVICES in the spec wins)."""
    merged = {**os.environ, **env}
    if spec.gpu_device_ids is not None and "CUDA_VISIBLE_DEVICES" not in env:
        merged["CUDA_VISIBLE_DEVICES"] = ",".join(spec.gpu_device_ids)
    return merged


class ProcessBackend:
    name: BackendName = "process"

    def __init__(self, workdir: Path = Path(".o2v"), *, stop_timeout_s: float = 15.0) -> None:
        self.state_dir = Path(workdir) / "deploy"
        self.stop_timeout_s = stop_timeout_s

    def _state_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def _read_state(self, name: str) -> ProcessState | None:
        path = self._state_path(name)
        if not path.exists():
            return None
        return ProcessState.model_validate_json(path.read_text())

    def deploy(self, spec: LaunchSpec, env: dict[str, str], progress: Progress) -> Deployment:
        fingerprint = spec.fingerprint()
        reused = recreated = restarted = False
        state = self._read_state(spec.name)
        child: subprocess.Popen[bytes] | None = None
        if state is not None and _alive(state.pid, state.start_ticks):
            if state.fingerprint == fingerprint:
                progress(f"{spec.name}: already running as pid {state.pid} with the same plan; keeping it")
                reused = True
            else:
                progress(
                    f"{spec.name}: plan changed ({state.fingerprint} -> {fingerprint}); replacing {state.pid}"
                )
                self._stop(state.pid)
                recreated = True
                state = None
        elif state is not None:
            restarted = state.fingerprint == fingerprint
            recreated = not restarted
            state = None
        if state is None:
            child, state = self._start(spec, env, progress)
        log_path = Path(state.log_path)
        pid, start_ticks = state.pid, state.start_ticks

        def died() -> str | None:
            if child is not None:
                code = child.poll()
                return None if code is None else f"the process exited with code {code}"
            return None if _alive(pid, start_ticks) else "the process is no longer running"

        try:
            waited_s = wait_for_health(
                name=spec.name,
                url=spec.url,
                path=spec.health_path,
                timeout_s=spec.health_timeout_s,
                died=died,
                log_tail=lambda: last_lines(log_path),
                hint=f"read the whole log in {log_path}; if the model was still loading raise "
                f"vllm.health_timeout_s "
                f"(now {spec.health_timeout_s:g} s); fix the cause and re-run the deploy",
                progress=progress,
            )
        except DeployError:
            self._stop(pid)
            self._state_path(spec.name).unlink(missing_ok=True)
            raise
        reading = read_vram(spec.gpu_device_ids) if spec.gpu_device_ids else None
        return Deployment(
            name=spec.name,
            backend="process",
            url=spec.url,
            pid=pid,
            fingerprint=fingerprint,
            reused=reused,
            recreated=recreated,
            restarted=restarted,
            health_wait_s=round(waited_s, 3),
            log_path=str(log_path),
            vram_gib=reading.used_gib if reading else None,
            vram_total_gib=reading.total_gib if reading else None,
            warnings=reading.warnings() if reading else [],
        )

    def _start(
        self, spec: LaunchSpec, env: dict[str, str], progress: Progress
    ) -> tuple[subprocess.Popen[bytes], ProcessState]:
        if not spec.command:
            raise DeployError(
                f"{spec.name}: the process backend needs a command line (LaunchSpec.command is empty)"
            )
        if port_in_use(spec.host, spec.port):
            raise DeployError(
                f"port {spec.port} on {bind_address(spec.host)} is already in use, so {spec.name} cannot "
                f"listen there. What to do: stop whatever listens there "
                f"(`ss -ltnp 'sport = :{spec.port}'`) or set "
                "vllm.port to a free port and re-run."
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.state_dir / f"{spec.name}.log"
        progress(f"{spec.name}: starting `{' '.join(spec.command)}`, log in {log_path}")
        with log_path.open("ab") as log:
            log.write(f"--- o2v: starting {spec.name} at {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
            log.flush()
            try:
                child = subprocess.Popen(
                    spec.command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=process_env(spec, env),
                    start_new_session=True,  # own process group: teardown stops vLLM and its workers together
                )
            except OSError as exc:
                raise DeployError(
                    f"{spec.name}: cannot run {spec.command[0]!r}: {exc}. What to do: install it here "
                    "(for vLLM: pip install vllm) or set vllm.command to the right executable."
                ) from exc
        state = ProcessState(
            pid=child.pid,
            start_ticks=_start_ticks(child.pid),
            fingerprint=spec.fingerprint(),
            log_path=str(log_path),
            url=spec.url,
            command=list(spec.command),
        )
        self._state_path(spec.name).write_text(state.model_dump_json(indent=2))
        return child, state

    def _stop(self, pgid: int) -> bool:
        """SIGTERM to the whole group, SIGKILL after stop_timeout_s; True when something was signalled."""
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + self.stop_timeout_s
        while time.monotonic() < deadline:
            _alive(pgid, None)  # reaps our own child
            if _group_gone(pgid):
                return True
            time.sleep(0.1)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _alive(pgid, None)
        return True

    def teardown(self, name: str, keep_logs_dir: Path | None) -> TeardownResult:
        state = self._read_state(name)
        if state is None:
            return TeardownResult(name=name, backend="process", found=False)
        stopped = _alive(state.pid, state.start_ticks) and self._stop(state.pid)
        saved: str | None = state.log_path
        if keep_logs_dir is not None and Path(state.log_path).exists():
            target = kept_log_path(keep_logs_dir, name)
            shutil.copyfile(state.log_path, target)
            saved = str(target)
        self._state_path(name).unlink(missing_ok=True)
        return TeardownResult(
            name=name, backend="process", found=True, stopped=stopped, removed=True, saved_log_path=saved
        )

    def status(self, name: str) -> DeploymentStatus:
        state = self._read_state(name)
        if state is None:
            return DeploymentStatus(name=name, backend="process", exists=False)
        alive = _alive(state.pid, state.start_ticks)
        return DeploymentStatus(
            name=name,
            backend="process",
            exists=True,
            state="running" if alive else "dead",
            fingerprint=state.fingerprint,
            pid=state.pid,
            url=state.url,
        )
