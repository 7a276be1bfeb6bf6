"""Run a simulator as a real subprocess: what tests, ``o2v rehearse`` and the load generator use.

A subprocess (not an in-process server) keeps the simulator's event loop off the caller's core and makes
its stdout/stderr the same streams the real servers write, so the log parser reads genuine output.

    with SimulatorProcess("ollama", args=["--num-parallel", "2"]) as sim:
        httpx.get(sim.url + "/api/tags")
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from o2v.child_process import stop_child
from o2v.errors import ServerError

READY_PATH = {"ollama": "/", "vllm": "/health"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SimulatorProcess:
    """``python -m o2v.simulate KIND`` in a subprocess, ready when its health route answers 200.

    ``stdout_lines`` / ``stderr_lines`` collect the output as it arrives (Ollama: access log / app log);
    with ``log_dir`` each stream is also written to ``<log_dir>/<kind>-<port>.{out,err}.log``.
    """

    def __init__(
        self,
        kind: Literal["ollama", "vllm"],
        port: int | None = None,
        args: list[str] | None = None,
        *,
        host: str = "127.0.0.1",
        ready_timeout_s: float = 30.0,
        log_dir: str | Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if kind not in READY_PATH:
            raise ValueError(f"kind must be 'ollama' or 'vllm', got {kind!r}")
        self.kind = kind
        self.host = host
        self.port = port or free_port(host)
        self.args = list(args or [])
        self.ready_timeout_s = ready_timeout_s
        self.log_dir = Path(log_dir) if log_dir else None
        self.env = env
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "o2v.simulate",
            self.kind,
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.args,
        ]

    def start(self) -> SimulatorProcess:
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        # Make the package importable from a checkout even when o2v is not installed.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            bufsize=1,
            encoding="utf-8",
            errors="replace",
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        for stream, sink, suffix in (
            (self.proc.stdout, self.stdout_lines, "out"),
            (self.proc.stderr, self.stderr_lines, "err"),
        ):
            thread = threading.Thread(target=self._pump, args=(stream, sink, suffix), daemon=True)
            thread.start()
            self._threads.append(thread)
        self._wait_ready()
        return self

    def _pump(self, stream: IO[str], sink: list[str], suffix: str) -> None:
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_dir / f"{self.kind}-{self.port}.{suffix}.log", "a", encoding="utf-8")  # noqa: SIM115
        try:
            for line in stream:
                sink.append(line.rstrip("\n"))
                if log is not None:
                    log.write(line)
                    log.flush()
        finally:
            if log is not None:
                log.close()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout_s
        url = self.url + READY_PATH[self.kind]
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                time.sleep(0.05)  # let the pump threads catch the last lines
                tail = " | ".join(self.stderr_lines[-3:]) or "no output"
                raise ServerError(
                    f"{self.kind} simulator exited with code {code} before it was ready: {tail}", url=self.url
                )
            try:
                with urllib.request.urlopen(url, timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerError(
            f"{self.kind} simulator did not answer {url} within {self.ready_timeout_s:.0f}s; "
            f"stderr: {' | '.join(self.stderr_lines[-3:]) or 'empty'}",
            url=self.url,
        )

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit code."""
        code = stop_child(self.proc, timeout_s)
        for thread in self._threads:
            thread.join(timeout=1.0)
        return code

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
