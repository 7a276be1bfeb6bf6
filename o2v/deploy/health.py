"""Waiting until a freshly started server answers, and failing with its own last words when it does not.

vLLM only opens its HTTP port after the model has loaded (minutes for big models), so "not answering yet"
is normal for a long time; a dead container or process, however, will never answer, so the wait stops at
once and shows the last log lines instead of sitting out the whole timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from o2v.errors import DeployError

LOG_TAIL_LINES = 40


def probe_health(url: str, path: str, *, timeout_s: float = 2.0) -> tuple[bool, str]:
    """One GET on the health endpoint: (healthy, what was seen)."""
    target = url.rstrip("/") + path
    try:
        response = httpx.get(target, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if response.status_code == 200:
        return True, "HTTP 200"
    return False, f"HTTP {response.status_code}"


def format_failure(what: str, reason: str, log_lines: list[str], hint: str) -> str:
    """One message: what failed, why, the last log lines, and what to do."""
    tail = log_lines[-LOG_TAIL_LINES:]
    text = f"{what}: {reason}."
    if tail:
        text += f"\nLast {len(tail)} log line(s):\n" + "\n".join("  | " + line for line in tail)
    else:
        text += "\nThe server wrote no log lines."
    return text + f"\nWhat to do: {hint}"


def wait_for_health(
    *,
    name: str,
    url: str,
    path: str,
    timeout_s: float,
    died: Callable[[], str | None],
    log_tail: Callable[[], list[str]],
    hint: str,
    interval_s: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> float:
    """Poll ``url + path`` until HTTP 200; return the seconds waited.

    ``died()`` returns None while the server may still come up, or why it never will (exited, unhealthy);
    ``log_tail()`` supplies the lines shown in the DeployError.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    last_seen = "no answer yet"
    next_note = start + 30.0
    while True:
        healthy, last_seen = probe_health(url, path)
        if healthy:
            return time.monotonic() - start
        reason = died()
        if reason is not None:
            raise DeployError(
                format_failure(f"{name} stopped before {url}{path} became healthy", reason, log_tail(), hint)
            )
        now = time.monotonic()
        if now >= deadline:
            raise DeployError(
                format_failure(
                    f"{name} did not become healthy at {url}{path} within {timeout_s:g} s",
                    f"last answer: {last_seen}",
                    log_tail(),
                    hint,
                )
            )
        if progress is not None and now >= next_note:
            progress(f"{name}: still waiting for {url}{path} ({now - start:.0f} s, last answer: {last_seen})")
            next_note = now + 30.0
        time.sleep(min(interval_s, max(0.0, deadline - now)))
