"""Ollama's log from wherever ``ollama.log_source`` says it is: the container's Docker logs, a file, or the
journal of its systemd unit (Ollama's Linux installer runs it as ``ollama.service``, logging to journald).

One reader for every phase that needs the log (inventory, the traffic check, the decommission's stragglers).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from o2v.config_sections import OllamaSettings
from o2v.errors import ServerError
from o2v.servers.logs import LogRecord, docker_log_lines, parse_lines, read_log

JOURNAL_TIMEOUT_S = 120.0


def ollama_log_records(
    ollama: OllamaSettings, *, since: datetime | None = None, docker_client: Any | None = None
) -> Iterable[LogRecord]:
    """Parsed records of Ollama's configured log, from about ``since`` on when the source can seek (Docker,
    journald); a file is read whole. ``docker_client``: the caller's, when it has one (else one from the
    environment). Raises ServerError or OSError when the log cannot be read."""
    if ollama.log_source == "none":
        raise ServerError("ollama.log_source is none: Ollama's log is not read")
    if ollama.log_source == "file":
        if ollama.log_file is None:  # the settings refuse this; kept for callers that build settings by hand
            raise ServerError("ollama.log_source is file but ollama.log_file is not set")
        return read_log(ollama.log_file)
    # A minute of slack: Docker and journald seek by whole seconds, and clocks of host and container can differ.
    start = None if since is None else datetime.fromtimestamp(math.floor(since.timestamp()) - 60, tz=UTC)
    if ollama.log_source == "journald":
        return parse_lines(journal_lines(ollama.systemd_unit, since=start))
    return parse_lines(docker_log_lines(ollama.container_name, since=start, client=docker_client))


def journal_lines(unit: str, *, since: datetime | None = None, journalctl: str = "journalctl") -> Iterator[str]:
    """The unit's messages as Ollama wrote them (``--output cat``: gin and slog lines carry their own times)."""
    program = shutil.which(journalctl)
    if program is None:
        raise ServerError(
            f"ollama.log_source is journald but {journalctl!r} is not on PATH. What to do: run o2v where "
            "journalctl can read Ollama's unit (the systemd-journal group, or root), or set log_source: file."
        )
    argv = [program, "--unit", unit, "--output", "cat", "--no-pager", "--quiet"]
    if since is not None:
        argv += ["--since", since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=JOURNAL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"journalctl took over {JOURNAL_TIMEOUT_S:.0f} s reading {unit}'s journal") from exc
    if done.returncode != 0:
        raise ServerError(
            f"journalctl could not read {unit}'s journal (exit {done.returncode}): {done.stderr.strip()[-300:]}. "
            "What to do: add o2v's user to the systemd-journal group, or set ollama.log_source: file."
        )
    return iter(done.stdout.splitlines())
