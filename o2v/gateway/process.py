"""``o2v gateway`` as a real subprocess, ready when its health route answers: for tests and rehearsals.

    with GatewayProcess(config_path, listen="127.0.0.1:11434") as gw:
        httpx.get(gw.url + "/api/tags")
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from o2v.errors import ServerError

READY_PATH = "/o2v/health"


class GatewayProcess:
    def __init__(
        self,
        config: str | Path,
        *,
        listen: str,
        args: list[str] | None = None,
        ready_timeout_s: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = Path(config)
        self.listen = listen
        self.args = list(args or [])
        self.ready_timeout_s = ready_timeout_s
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(f"{self.config}.gateway.log")

    @property
    def url(self) -> str:
        return f"http://{self.listen}"

    @property
    def command(self) -> list[str]:
        code = "from o2v.cli import main; main()"
        flags = ["--config", str(self.config), "--listen", self.listen, *self.args]
        return [sys.executable, "-c", code, "gateway", *flags]

    def start(self) -> GatewayProcess:
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"o2v gateway exited with code {self.proc.returncode}: {self.tail()}", url=self.url)
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=1.0) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"o2v gateway not ready within {self.ready_timeout_s:.0f}s: {self.tail()}", url=self.url)

    def tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").splitlines()[-lines:]) or "no output"
        except OSError:
            return "no output"

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM (in-flight requests finish), then SIGKILL after ``timeout_s``."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout_s)
        return self.proc.returncode

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
