"""The two streaming wire formats: OpenAI-style SSE (vLLM, Ollama's /v1) and Ollama's native NDJSON.

Parsing runs once per network read in the hot path, so it works on bytes, splits lines itself and decodes
each event with orjson; a token's arrival time is the time its bytes were read, which is what a user sees.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

try:  # orjson is several times faster than json on the small chunks a stream is made of
    import orjson

    _loads: Any = orjson.loads
    _dumps: Any = orjson.dumps
except ImportError:  # pragma: no cover - orjson ships with prefect, so this is a fallback only
    import json

    _loads = json.loads

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()


@dataclass(slots=True)
class Record:
    """One request as the hot path sees it: monotonic timestamps only; turned into a RequestSample later."""

    level: int
    intended_s: float
    wall_time: float = 0.0
    start_s: float = 0.0
    end_s: float = 0.0
    first_token_s: float = 0.0
    token_times: list[float] = field(default_factory=list)
    usage_tokens: int | None = None
    status: int = 0
    error_kind: str | None = None
    error_message: str = ""
    done: bool = False

    @property
    def ok(self) -> bool:
        return self.error_kind is None


def build_body(
    api: str,
    model: str,
    prompt: str,
    *,
    max_tokens: int,
    temperature: float,
    top_p: float | None,
    ignore_eos: bool,
    seed: int | None = None,
) -> bytes:
    """Request body for one prompt, encoded once and reused: the hot path never re-encodes JSON."""
    messages = [{"role": "user", "content": prompt}]
    if api == "ollama":
        options: dict[str, Any] = {"num_predict": max_tokens, "temperature": temperature}
        if top_p is not None:
            options["top_p"] = top_p
        if seed is not None:
            options["seed"] = seed
        return bytes(_dumps({"model": model, "messages": messages, "stream": True, "options": options}))
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream_options": {"include_usage": True},
    }
    if top_p is not None:
        body["top_p"] = top_p
    if ignore_eos:
        body["ignore_eos"] = True
    return bytes(_dumps(body))


class StreamParser(ABC):
    """Feeds raw bytes, fills a Record. Subclasses decode one line each."""

    __slots__ = ("buffer", "record")

    def __init__(self, record: Record) -> None:
        self.record = record
        self.buffer = b""

    def feed(self, data: bytes, now: float) -> None:
        if self.buffer:
            data = self.buffer + data
        lines = data.split(b"\n")
        self.buffer = lines.pop()
        for line in lines:
            if line and not self.record.done:
                self.line(line, now)

    def finish(self, now: float) -> None:
        """The body ended: a last line without newline still counts."""
        if self.buffer.strip() and not self.record.done:
            self.line(self.buffer, now)
        self.buffer = b""

    @abstractmethod
    def line(self, line: bytes, now: float) -> None:
        """One complete line of the body: each wire format reads its own."""

    def token(self, now: float) -> None:
        record = self.record
        if not record.token_times:
            record.first_token_s = now
        record.token_times.append(now)

    def fail(self, kind: str, message: str) -> None:
        self.record.error_kind = kind
        self.record.error_message = message[:300]
        self.record.done = True


class SSEParser(StreamParser):
    """OpenAI chat-completions stream: ``data: {json}`` events, ``data: [DONE]`` at the end."""

    __slots__ = ()

    def feed(self, data: bytes, now: float) -> None:
        # Hot path. The events of one network read arrived at the same time, so a read is counted as a whole
        # with three C-level scans: content fields, empty content fields, events. Only the events after the
        # last content field (finish, usage, errors, [DONE]) are decoded. A read whose other events are not
        # all at its end (JSON with spaces, a server of another shape) goes line by line instead.
        if self.buffer:
            data = self.buffer + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            self.buffer = data
            return
        block, self.buffer = data[:cut], data[cut:]
        record = self.record
        if record.done:
            return
        contents = block.count(b'content":"')  # "reasoning_content" too: reasoning tokens are output tokens
        tail = block
        if contents:
            tail = block[block.find(b"\n", block.rfind(b'content":"')) :]
        if block.count(b"data:") - contents != tail.count(b"data:"):
            self._line_by_line(block, now)
            return
        tokens = contents - block.count(b'content":""') if contents else 0
        if tokens:
            if not record.token_times:
                record.first_token_s = now
            record.token_times.extend([now] * tokens)
        for line in tail.split(b"\n"):
            if line and not record.done:
                self.line(line, now)

    def _line_by_line(self, block: bytes, now: float) -> None:
        record = self.record
        times = record.token_times
        for line in block.split(b"\n"):
            if not line or record.done:
                continue
            if line.count(b'content":"') == 1 and b'"error"' not in line and b'"usage":{' not in line:
                if line[line.find(b'content":"') + 10] != 34:  # not '"': non-empty content
                    if not times:
                        record.first_token_s = now
                    times.append(now)
                continue
            self.line(line, now)

    def line(self, line: bytes, now: float) -> None:
        if not line.startswith(b"data:"):
            return  # blank separators, comments (": ping"), "event:" lines
        payload = line[5:].strip()
        if payload == b"[DONE]":
            self.record.done = True
            return
        try:
            event = _loads(payload)
        except ValueError:
            self.fail("bad_response", f"unparsable SSE event: {payload[:120]!r}")
            return
        if not isinstance(event, dict):
            self.fail("bad_response", f"SSE event is not an object: {payload[:120]!r}")
            return
        choices = event.get("choices")
        if choices:
            delta = choices[0].get("delta") or {}
            if delta.get("content") or delta.get("reasoning_content") or choices[0].get("text"):
                self.token(now)
        usage = event.get("usage")
        if usage:
            tokens = usage.get("completion_tokens")
            if isinstance(tokens, int):
                self.record.usage_tokens = tokens
        if "error" in event or event.get("object") == "error":
            error = event.get("error", event)
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            self.fail("stream_error", message)


class NDJSONParser(StreamParser):
    """Ollama's native /api/chat and /api/generate stream: one JSON object per line, ``done: true`` last."""

    __slots__ = ()

    def line(self, line: bytes, now: float) -> None:
        try:
            event = _loads(line)
        except ValueError:
            self.fail("bad_response", f"unparsable NDJSON line: {line[:120]!r}")
            return
        if not isinstance(event, dict):
            self.fail("bad_response", f"NDJSON line is not an object: {line[:120]!r}")
            return
        if "error" in event:
            self.fail("stream_error", str(event["error"]))
            return
        message = event.get("message")
        text = message.get("content") if isinstance(message, dict) else event.get("response")
        if text:
            self.token(now)
        if event.get("done"):
            tokens = event.get("eval_count")
            if isinstance(tokens, int):
                self.record.usage_tokens = tokens
            self.record.done = True


def parser_for(api: str, record: Record) -> StreamParser:
    return NDJSONParser(record) if api == "ollama" else SSEParser(record)


def error_text(body: bytes) -> str:
    """The server's own error message from an error response (both APIs, old and new vLLM shapes)."""
    try:
        data = _loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return text[:200] if text else "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message") or error)[:300]
        return str(error)[:300]
    return str(data)[:300]
