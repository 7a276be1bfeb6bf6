"""What the gateway's public server (:mod:`o2v.gateway.public_server`) hands to its handler and gets back: a parsed
:class:`Request` (body included), and a whole :class:`Reply` or a :class:`Stream` the handler writes piece by piece.

The framing is decided here: ``Content-Length`` when the whole body goes out at once, chunked otherwise (close at
the end for an HTTP/1.0 client), nothing for HEAD, 204 and 304.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus
from typing import Protocol
from urllib.parse import unquote

import httptools

_NO_BODY_STATUS = frozenset({204, 304})
_LAST_CHUNK = b"0\r\n\r\n"


class Wire(Protocol):
    """The connection a request came on, as its answer needs it."""

    remote: str | None
    closing: bool  # the connection closes after the answer in progress
    paused: bool  # the client reads slower than the answer is written

    def write(self, data: bytes) -> None: ...

    async def drained(self) -> None: ...


class Request:
    """One parsed request, body included."""

    __slots__ = ("method", "path", "path_qs", "version", "raw_headers", "body", "remote", "too_large",
                 "content_length", "keep_alive", "_by_name", "conn", "stream")  # fmt: skip

    def __init__(self, conn: Wire, method: str, target: bytes, version: str,
                 raw_headers: list[tuple[bytes, bytes]], keep_alive: bool) -> None:  # fmt: skip
        self.conn = conn
        self.method = method
        self.path_qs = target.decode("latin-1")
        url = httptools.parse_url(target)
        self.path = unquote(url.path.decode("utf-8", "surrogateescape")) if url.path else "/"
        self.version = version
        self.raw_headers = raw_headers
        self.remote: str | None = conn.remote
        self.keep_alive = keep_alive
        self.body = b""
        self.too_large = False
        by_name: dict[bytes, bytes] = {}
        for name, value in raw_headers:
            key = name.lower()
            by_name[key] = by_name[key] + b", " + value if key in by_name else value
        self._by_name = by_name
        length = by_name.get(b"content-length")
        self.content_length = int(length) if length is not None and length.strip().isdigit() else None
        self.stream: Stream | None = None  # the streamed answer, once begun

    def header(self, lower_name: bytes) -> str | None:
        """One header's value (repeated fields joined with ", "), by its lower-case name."""
        value = self._by_name.get(lower_name)
        return None if value is None else value.decode("utf-8", "surrogateescape")


class Reply:
    """A whole response, written in one go with its length."""

    __slots__ = ("status", "body", "headers", "reason")

    def __init__(self, body: bytes = b"", *, status: int = 200, content_type: str | None = "application/json",
                 headers: Iterable[tuple[str, str]] = (), reason: str | None = None) -> None:  # fmt: skip
        self.status = status
        self.body = body
        self.reason = reason
        self.headers = [("Content-Type", content_type), *headers] if content_type else list(headers)


class Stream:
    """A response written piece by piece as the handler gets them. The head is held until the first write, so it
    travels with the first body bytes (one system call less); :meth:`send_head` sends it alone, for when the first
    bytes are not here yet and the client should not wait for them. Without a ``content_length`` the body is
    chunked, unless all of it goes out at once in :meth:`write_eof`: then it is sent with its length."""

    __slots__ = ("_request", "_conn", "status", "reason", "headers", "content_length", "head_sent", "_chunked",
                 "finished", "closes")  # fmt: skip

    def __init__(self, request: Request, *, status: int = 200, reason: str | None = None,
                 headers: Iterable[tuple[str, str]] = (), content_length: int | None = None) -> None:  # fmt: skip
        self._request = request
        self._conn = request.conn
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content_length = content_length
        self.head_sent = self._chunked = self.finished = self.closes = False
        request.stream = self

    def force_close(self) -> None:
        """Close the connection once this response ends (it may be incomplete: the client must not reuse it)."""
        self.closes = True

    def send_head(self) -> None:
        if not self.head_sent:
            self._conn.write(self._head(None))

    async def write(self, data: bytes) -> None:
        conn = self._conn
        if not self.head_sent:
            head = self._head(None)
            conn.write(head + self._frame(data) if data else head)
        elif data:
            conn.write(self._frame(data))
        if conn.paused:
            await conn.drained()

    async def write_eof(self, data: bytes = b"") -> None:
        if self.finished:
            return
        self.finished = True
        conn = self._conn
        if not self.head_sent:
            head = self._head(len(data) if self.content_length is None else None)
            conn.write(head + self._frame(data) if data else head)
        elif self._chunked:
            conn.write(self._frame(data) + _LAST_CHUNK if data else _LAST_CHUNK)
        elif data:
            conn.write(self._frame(data))
        if conn.paused:
            await conn.drained()

    def _frame(self, data: bytes) -> bytes:
        if not self._has_body:
            return b""
        return b"%x\r\n%b\r\n" % (len(data), data) if self._chunked else data

    @property
    def _has_body(self) -> bool:
        return self._request.method != "HEAD" and self.status not in _NO_BODY_STATUS

    def _head(self, whole_length: int | None) -> bytes:
        """The head; ``whole_length``: the whole body is the bytes that go with it."""
        self.head_sent = True
        conn, request = self._conn, self._request
        if self.closes or conn.closing:
            request.keep_alive = False
        framing: list[tuple[str, str]] = []
        if self.status in _NO_BODY_STATUS:
            pass  # no body, and no field that announces one
        elif self.content_length is not None:
            framing.append(("Content-Length", str(self.content_length)))
        elif whole_length is not None:
            framing.append(("Content-Length", str(whole_length)))
        elif request.method != "HEAD":
            if request.version == "1.1":
                self._chunked = True
                framing.append(("Transfer-Encoding", "chunked"))
            else:  # an HTTP/1.0 client reads to the end of the connection
                request.keep_alive = False
        return encode_head(self.status, self.reason, (*self.headers, *framing), keep_alive=request.keep_alive,
                           http_1_0=request.version == "1.0")  # fmt: skip


def encode_head(status: int, reason: str | None, headers: Iterable[tuple[str, str]], *, keep_alive: bool,
                http_1_0: bool = False) -> bytes:  # fmt: skip
    """A response head; ``Connection`` says what the client cannot assume (close on 1.1, keep-alive on 1.0)."""
    if reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    lines = [f"HTTP/1.1 {status} {reason}\r\nDate: {_http_date()}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers)
    if not keep_alive:
        lines.append("Connection: close\r\n")
    elif http_1_0:
        lines.append("Connection: keep-alive\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1", "replace")


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]
