"""A small keep-alive HTTP/1.1 client for the gateway's upstream side: asyncio protocol + llhttp (httptools).

Why not aiohttp's client: per proxied request it spends about as much CPU as the rest of the gateway together
(request and response objects, URL handling, tracing hooks), and that CPU sits on every request's path to its
first token. This client does only what a reverse proxy needs: write one request, hand over the response head,
then each body piece as it arrives, and put the connection back in the pool when the answer was complete.
"""

from __future__ import annotations

import asyncio
import collections

import httptools
from multidict import CIMultiDict


class Broken(Exception):
    """The connection failed or closed before the answer was complete. ``before_head``: nothing was received."""

    def __init__(self, message: str, *, before_head: bool) -> None:
        self.before_head = before_head
        super().__init__(message)


class LeanResponse:
    """What the proxy reads: status, reason, headers, then body pieces through ``read``."""

    def __init__(self, conn: Connection, head_only: bool) -> None:
        self._conn = conn
        self.head_only = head_only
        self.status = 0
        self.reason = ""
        self.headers: CIMultiDict[str] = CIMultiDict()

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "application/octet-stream").split(";", 1)[0].strip().lower()

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None and value.isdigit() else None

    async def read(self, idle_timeout_s: float | None = None) -> bytes:
        """Every body byte received so far (waiting for the next piece when none is pending); b"" at the end.
        ``TimeoutError`` when nothing arrives for ``idle_timeout_s``."""
        return await self._conn.next_piece(idle_timeout_s)

    def read_nowait(self) -> bytes:
        """The body bytes already received, without waiting (b"" when none are pending)."""
        return self._conn.take_pieces()

    @property
    def complete(self) -> bool:
        """The whole answer is here and was read: no body byte is left to come."""
        return self._conn.finished


class Connection(asyncio.Protocol):
    """One upstream connection carrying one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reusable = False
        self.served = 0
        self._head: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._pieces: collections.deque[bytes] = collections.deque()
        self._done = False
        self._error: Broken | None = None
        self._received = False
        self._response: LeanResponse | None = None
        self._header_name = b""

    # -- asyncio.Protocol ---------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio subclasses

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"sent an invalid HTTP response ({exc})")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._done:
            self._fail(f"closed the connection ({exc or 'end of stream'})")

    # -- httptools callbacks ------------------------------------------------------------------------------------
    def on_status(self, status: bytes) -> None:
        assert self._response is not None
        self._response.reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._response is not None
        self._response.headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        assert self._response is not None
        self._response.status = self.parser.get_status_code()
        if self._response.head_only:  # HEAD: the parser cannot know there is no body to wait for
            self._done = True
            self.reusable = False
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._pieces.append(body)
        self._wake()

    def on_message_complete(self) -> None:
        self._done = True
        self.reusable = self.parser.should_keep_alive()
        self._wake()

    # -- used by the pool and the response ------------------------------------------------------------------------
    def send(self, request: bytes, head_only: bool) -> LeanResponse:
        assert self.transport is not None
        self._response = LeanResponse(self, head_only)
        self._head = asyncio.get_running_loop().create_future()
        self._pieces.clear()
        self._done = self.reusable = self._received = False
        self._error = None
        self.served += 1
        self.transport.write(request)
        return self._response

    async def head(self, timeout_s: float | None = None) -> None:
        """Wait for the response head; ``TimeoutError`` after ``timeout_s``."""
        assert self._head is not None
        if self._head.done():
            return self._head.result()
        timer = _expire_later(self._head, timeout_s)
        try:
            await self._head
        finally:
            if timer is not None:
                timer.cancel()

    async def next_piece(self, idle_timeout_s: float | None = None) -> bytes:
        while not self._pieces:
            if self._error is not None:
                raise self._error
            if self._done:
                return b""
            # A timer on the loop rather than asyncio.timeout(): no cancellation of the task to undo, and the
            # timer is only armed when there is really something to wait for.
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            timer = _expire_later(waiter, idle_timeout_s)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return self.take_pieces()

    def take_pieces(self) -> bytes:
        pieces = self._pieces
        if not pieces:
            return b""
        if len(pieces) == 1:
            return pieces.popleft()
        data = b"".join(pieces)
        pieces.clear()
        return data

    @property
    def finished(self) -> bool:
        return self._done and not self._pieces

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, message: str) -> None:
        if self._error is None and not self._done:
            self._error = Broken(message, before_head=not self._received)
        if self._head is not None and not self._head.done():
            self._head.set_exception(self._error or Broken(message, before_head=not self._received))
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _expire_later(future: asyncio.Future[None], timeout_s: float | None) -> asyncio.TimerHandle | None:
    if timeout_s is None:
        return None
    return asyncio.get_running_loop().call_later(timeout_s, _expire, future)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class Pool:
    """Idle keep-alive connections to one host, newest first."""

    def __init__(self, host: str, port: int, *, tls: bool = False) -> None:
        self.host, self.port, self.tls = host, port, tls
        self._idle: list[Connection] = []

    async def acquire(self, connect_timeout_s: float, *, fresh: bool = False) -> Connection:
        while self._idle and not fresh:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(connect_timeout_s):
            _transport, conn = await loop.create_connection(Connection, self.host, self.port, ssl=self.tls or None)
        return conn

    def release(self, conn: Connection) -> None:
        if conn.finished and conn.reusable and not conn.closed:
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def encode_request(method: str, path: str, host: str, headers: dict[str, str] | bytes, body: bytes | None) -> bytes:
    """One request as it goes on the wire; ``headers`` as a mapping, or as header lines already encoded."""
    if not isinstance(headers, bytes):
        headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")
    length = f"Content-Length: {len(body or b'')}\r\n" if body is not None or method in ("POST", "PUT", "PATCH") else ""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n".encode("latin-1") + headers + length.encode() + b"\r\n"
    return head + body if body else head


def split_url(url: str) -> tuple[str, int, str, bool]:
    """``http(s)://host:port`` as (host, port, Host header, TLS)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    tls = parts.scheme == "https"
    return parts.hostname or "127.0.0.1", parts.port or (443 if tls else 80), parts.netloc, tls
