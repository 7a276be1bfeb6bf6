"""How much other traffic Ollama carried while o2v measured it.

Ollama is measured where it serves the team, so its figures include whatever the team sent at the same time;
vLLM, fresh and unannounced, serves only o2v. The comparison knows how many requests it sent to Ollama, and
Ollama's access log (gin, one line per finished request) says how many arrived: the difference is the team's.
With ``ollama.log_source: none`` (or an unreadable log) the answer is "unknown", never 0.

gin prints the server's local wall clock with no zone and one-second resolution, so the window is widened to
whole seconds and compared in local time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from o2v.errors import ServerError
from o2v.servers.log_source import ollama_log_records
from o2v.servers.logs import AccessRecord, parse_lines

INFERENCE_PATHS = frozenset({"/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions"})


class OllamaTraffic(BaseModel):
    """Requests Ollama logged during the measurement window, and how many of them were not o2v's."""

    log_source: str = Field(..., description="Where the log was read: docker, file or none.")
    window_start: datetime
    window_end: datetime
    own_requests: int = Field(..., description="Inference requests o2v sent to Ollama in the window.")
    logged_requests: int | None = Field(None, description="Inference requests in Ollama's log; None: unknown.")
    other_requests: int | None = Field(None, description="logged - own (never below 0); None: unknown.")
    note: str = ""

    @property
    def known(self) -> bool:
        return self.other_requests is not None

    def sentence(self) -> str:
        span = (self.window_end - self.window_start).total_seconds()
        if self.other_requests is None:
            return f"other traffic on Ollama during the {span:.0f} s window: unknown ({self.note})"
        rate = self.other_requests / span if span > 0 else 0.0
        return (
            f"other traffic on Ollama during the {span:.0f} s window: {self.other_requests} requests "
            f"({rate:.2f}/s) besides o2v's {self.own_requests} (log: {self.log_source})"
        )


def ollama_traffic(
    settings: Any,
    *,
    start: datetime,
    end: datetime,
    own_requests: int,
    lines: Iterable[str] | None = None,
) -> OllamaTraffic:
    """Count inference requests in Ollama's log for [start, end]; ``lines`` replaces the configured source."""
    source = settings.ollama.log_source if lines is None else "given lines"
    base = OllamaTraffic(log_source=source, window_start=start, window_end=end, own_requests=own_requests)
    if lines is None and source == "none":
        return base.model_copy(update={"note": "ollama.log_source is none; set it to docker, file or journald to know"})
    try:
        records = parse_lines(lines) if lines is not None else _records(settings, start)
        logged = count_inference(records, start, end)
    except (ServerError, OSError) as exc:
        return base.model_copy(update={"note": f"Ollama's log could not be read: {exc}"})
    return base.model_copy(update={"logged_requests": logged, "other_requests": max(0, logged - own_requests)})


def count_inference(records: Iterable[Any], start: datetime, end: datetime) -> int:
    low = _local_naive(start).replace(microsecond=0)
    high = _local_naive(end).replace(microsecond=0) + timedelta(seconds=1 if end.microsecond else 0)
    count = 0
    for record in records:
        if not isinstance(record, AccessRecord) or record.method != "POST":
            continue
        if record.path.split("?", 1)[0] in INFERENCE_PATHS and low <= record.time <= high:
            count += 1
    return count


def _records(settings: Any, start: datetime) -> Iterable[Any]:
    return ollama_log_records(settings.ollama, since=start)


def _local_naive(when: datetime) -> datetime:
    return when.astimezone().replace(tzinfo=None) if when.tzinfo is not None else when
