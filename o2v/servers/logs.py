"""Ollama's logs, parsed line by line in constant memory.

Ollama has no metrics endpoint and no queue-status route, so its logs are the only record of how long
requests really waited. Two streams are interleaved in practice (``docker logs``, ``journalctl``):

* gin's access log on stdout, one line per request, with the latency as a Go duration that *includes* the
  time the request spent waiting for a free slot::

      [GIN] 2025/01/15 - 10:23:45 | 200 |  2.345678901s |      172.17.0.1 | POST     "/api/chat"

* slog text on stderr: ``time=... level=INFO source=routes.go:1259 msg="server config" env="map[...]"``, plus
  the ``aborting ... request due to client closing the connection`` message of a client that gave up while
  queued and, for each model load, ``llama runner started in 5.65 seconds`` (up to v0.2x) or, since v0.30,
  ``llama-server started in 36.45 seconds`` (``llm/llama_server.go``), which one load writes twice a few ms
  apart (:class:`LoadCounter` counts it once). Versions before slog used Go's standard logger
  (``2024/01/15 10:23:45 routes.go:1008: ...``); all are read.

Anything may precede a record (journald's ``host ollama[123]:``, ``docker logs -t`` timestamps, kubectl
prefixes), terminals add colour codes, and llama.cpp prints its own lines; none of that stops the parser.
Every function here is a generator, so a multi-gigabyte log is read without holding it in memory.
"""

from __future__ import annotations

import gzip
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from o2v.errors import ServerError

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_GIN = re.compile(
    r"\[GIN\] (\d{4})/(\d{2})/(\d{2}) - (\d{2}):(\d{2}):(\d{2}) \|\s*(\d{3})\s*\|\s*(\S+)\s*\|\s*(\S*)\s*\|"
    r"\s*([A-Za-z]+)\s+(\".*\")\s*$"
)
_SLOG_START = re.compile(r"(?:^|\s)time=(\S+) level=")
_SLOG_ATTR = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)')
_STDLOG = re.compile(r"(?:^|\s)(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? (\S+\.go:\d+): (.*)$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|Âµs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "Âµs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0}
_GO_ESCAPES = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", '"': '"',
                   "\\": "\\", "'": "'"}
# Output of the llama.cpp / ggml runner and gin's start-up banner: Ollama's own, not a foreign format.
_NOISE_PREFIXES = (
    "[GIN-debug]", "llama_", "llm_load_", "load_tensors", "print_info", "ggml_", "llama_model_loader",
    "llama_new_context", "llama_kv_cache", "llama_context", "clip_", "load:", "init:", "common_", "main:",
    "system_info", "INFO [", "DEBUG [", "WARN [", "ERROR [", "- using", "Device ", "Error #", "encode:",
    "decode:", "sched_", "graph_", "output_reserve",
    # llama-server (Ollama 0.30+) with --no-log-prefix: its server, slot and queue lines and build banner
    "srv ", "slot ", "que ", "build:",
)
_ABORT = re.compile(r"aborting (\w+ )?request due to client closing the connection")
_RUNNER_STARTED = re.compile(r"(?:llama runner|llama-server) started in ([\d.]+) seconds")
_LOAD_START = ("starting llama server", "starting runner", "starting llama runner", "starting llama-server")
# Ollama 0.30+ waits for a new llama-server twice (the load, then the scheduler), writing the started-in
# line twice within milliseconds; a second line this close, with no load started between, is the same load.
_SAME_LOAD_S = 2.0


@dataclass(slots=True, frozen=True)
class AccessRecord:
    """One request from gin's access log. ``time`` is the server's local wall clock (gin prints no zone)."""

    time: datetime
    status: int
    latency_s: float
    client_ip: str
    method: str
    path: str
    line_no: int = 0
    kind: str = field(default="access", init=False)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(slots=True, frozen=True)
class AppRecord:
    """One slog (or pre-slog standard logger) line. ``attrs`` holds every key=value after ``msg``."""

    time: datetime
    level: str
    source: str
    msg: str
    attrs: dict[str, str]
    line_no: int = 0
    kind: str = field(default="app", init=False)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(slots=True, frozen=True)
class UnparsedLine:
    """A line that is neither. ``known_noise`` marks Ollama's own chatter (llama.cpp output, gin banner)."""

    text: str
    line_no: int = 0
    known_noise: bool = False
    kind: str = field(default="unparsed", init=False)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


LogRecord = AccessRecord | AppRecord | UnparsedLine


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


def parse_go_duration(text: str) -> float:
    """Seconds in a Go ``time.Duration`` string: ``41.5µs``, ``1.2ms``, ``2.3s``, ``1m5s``, ``1h2m3.5s``."""
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body) or pos == 0:
        raise ValueError(f"expected a Go duration such as 2.3s or 1m5s, got {text!r}")
    return sign * total


def _unquote_go(text: str) -> str:
    """Undo Go's strconv.Quote (gin's ``%#v`` path, slog's quoted values)."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    body = text[1:-1]
    if "\\" not in body:
        return body

    def one(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc[0] in "xuU" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        if esc[0].isdigit() and len(esc) == 3:
            return chr(int(esc, 8))
        return _SIMPLE_ESCAPES.get(esc, esc)

    return _GO_ESCAPES.sub(one, body)


def _slog_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # Nanosecond fractions (some exporters) are more than fromisoformat takes: keep microseconds.
        fixed = re.sub(r"(\.\d{6})\d+", r"\1", text)
        try:
            return datetime.fromisoformat(fixed)
        except ValueError:
            return None


def parse_line(line: str, line_no: int = 0) -> LogRecord:
    """Parse one line of any of the formats above; never raises."""
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    line = line.rstrip("\r\n")
    if "[GIN]" in line:
        m = _GIN.search(line)
        if m:
            try:
                y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
                return AccessRecord(
                    time=datetime(y, mo, d, h, mi, s), status=int(m.group(7)),
                    latency_s=parse_go_duration(m.group(8)), client_ip=m.group(9), method=m.group(10).upper(),
                    path=_unquote_go(m.group(11)), line_no=line_no,
                )
            except ValueError:
                pass
    elif "level=" in line:
        m = _SLOG_START.search(line)
        if m:
            when = _slog_time(m.group(1))
            if when is not None:
                attrs = {k: _unquote_go(v) for k, v in _SLOG_ATTR.findall(line[m.start():])}
                level = attrs.pop("level", "INFO")
                source = attrs.pop("source", "")
                msg = attrs.pop("msg", "")
                attrs.pop("time", None)
                return AppRecord(time=when, level=level.upper(), source=source, msg=msg, attrs=attrs, line_no=line_no)
    if ".go:" in line:
        m = _STDLOG.search(line)
        if m:
            try:
                y, mo, d, h, mi, sec = (int(g) for g in m.groups()[:6])
                when = datetime(y, mo, d, h, mi, sec)
            except ValueError:
                when = None
            if when is not None:
                return AppRecord(time=when, level="INFO", source=m.group(7), msg=m.group(8), attrs={}, line_no=line_no)
    stripped = line.strip()
    noise = not stripped or stripped.startswith(_NOISE_PREFIXES)
    return UnparsedLine(text=line[:500], line_no=line_no, known_noise=noise)


def parse_lines(lines: Iterable[str]) -> Iterator[LogRecord]:
    """Parse lines lazily: one record per line, in order."""
    for number, line in enumerate(lines, start=1):
        yield parse_line(line, number)


def _decoded(stream: BinaryIO) -> Iterator[str]:
    for raw in stream:
        yield raw.decode("utf-8", errors="replace")


def read_log(path_or_dash: str | Path) -> Iterator[LogRecord]:
    """Records from a log file (``.gz`` too) or from stdin for ``-``; bytes that are not UTF-8 never stop it."""
    if str(path_or_dash) == "-":
        yield from parse_lines(_decoded(sys.stdin.buffer))
        return
    path = Path(path_or_dash).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"expected an Ollama log file at {path}, found nothing there")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        yield from parse_lines(_decoded(handle))  # type: ignore[arg-type]


def docker_log_lines(container_name: str, *, since: datetime | None = None, client: Any = None) -> Iterator[str]:
    """Lines of a container's stdout and stderr as Docker keeps them, streamed in chunks and re-split."""
    try:
        import docker
        import docker.errors
    except ImportError as exc:  # pragma: no cover - docker is a declared dependency
        raise ServerError("reading Docker logs needs the docker package: pip install docker") from exc
    try:
        client = client or docker.from_env()
        container = client.containers.get(container_name)
        chunks = container.logs(stream=True, follow=False, stdout=True, stderr=True, since=since)
    except docker.errors.NotFound as exc:
        raise ServerError(
            f"expected a Docker container named {container_name!r} running Ollama, found none; "
            "set ollama.container_name or read a log file with --log"
        ) from exc
    except docker.errors.DockerException as exc:
        raise ServerError(f"cannot read the logs of container {container_name!r}: {exc}") from exc
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


def parse_go_map(text: str) -> dict[str, str]:
    """``map[K:V K2:V2]`` as Go's ``%v`` prints it; values may hold spaces inside ``[...]`` (OLLAMA_ORIGINS)."""
    text = text.strip()
    if text.startswith("map[") and text.endswith("]"):
        text = text[4:-1]
    result: dict[str, str] = {}
    key: str | None = None
    parts: list[str] = []
    depth = 0
    for token in text.split(" "):
        starts_key = depth == 0 and re.match(r"^[A-Za-z_][A-Za-z0-9_]*:", token) is not None
        if starts_key:
            if key is not None:
                result[key] = " ".join(parts)
            key, _, first = token.partition(":")
            parts = [first]
            token = first
        elif key is not None:
            parts.append(token)
        depth += token.count("[") - token.count("]")
        depth = max(depth, 0)
    if key is not None:
        result[key] = " ".join(parts)
    return result


def server_config(records: Iterable[LogRecord]) -> dict[str, str]:
    """The environment of the most recent ``server config`` line (the last restart wins); {} when absent."""
    found: dict[str, str] = {}
    for record in records:
        if isinstance(record, AppRecord) and record.msg == "server config" and "env" in record.attrs:
            found = parse_go_map(record.attrs["env"])
    return found


def is_client_abort(record: LogRecord) -> bool:
    """A client gave up while its request waited for a slot (or mid-generation)."""
    return isinstance(record, AppRecord) and _ABORT.search(record.msg) is not None


def model_load_seconds(record: LogRecord) -> float | None:
    """Seconds from ``llama runner started in N seconds`` / ``llama-server started in N seconds``, else None.

    Every started-in line counts here; use :class:`LoadCounter` to count loads.
    """
    if isinstance(record, AppRecord):
        m = _RUNNER_STARTED.search(record.msg)
        if m:
            return float(m.group(1))
    return None


def is_model_load_start(record: LogRecord) -> bool:
    return isinstance(record, AppRecord) and record.msg.startswith(_LOAD_START)


class LoadCounter:
    """Model loads in a stream of records, each counted once however many started-in lines it wrote."""

    def __init__(self) -> None:
        self._last_started: datetime | None = None
        self._load_started = False

    def feed(self, record: LogRecord) -> float | None:
        """The load time (s) when this record completes a new load; None otherwise (duplicates included)."""
        if is_model_load_start(record):
            self._load_started = True
            return None
        seconds = model_load_seconds(record)
        if seconds is None:
            return None
        assert isinstance(record, AppRecord)
        last, self._last_started = self._last_started, record.time
        if not self._load_started and last is not None and _gap_s(last, record.time) <= _SAME_LOAD_S:
            return None
        self._load_started = False
        return seconds


def _gap_s(earlier: datetime, later: datetime) -> float:
    """Seconds between two record times; a zone-aware and a naive time (mixed formats) count as far apart."""
    if (earlier.tzinfo is None) != (later.tzinfo is None):
        return float("inf")
    return abs((later - earlier).total_seconds())
