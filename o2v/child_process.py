"""Stopping a server o2v started as a child process (a simulator, the gateway): politely, then for sure."""

from __future__ import annotations

import subprocess


def stop_child(proc: subprocess.Popen[str] | subprocess.Popen[bytes] | None, timeout_s: float) -> int | None:
    """SIGTERM (in-flight requests finish), then SIGKILL after ``timeout_s``; the exit code, None if never started."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)
    return proc.returncode
