"""The load generator's HTTP/1.1 client: keep-alive connections as asyncio Protocols, parsed by llhttp.

Why not a general client: at hundreds of concurrent streams every microsecond a client spends per chunk is a
microsecond the figures stop describing the server. A general client (aiohttp, httpx) wraps each read in a
stream object, a coroutine hop and header bookkeeping; here a network read goes straight from the event loop
into ``httptools`` (llhttp, the parser Node.js uses), which removes the chunked framing in C and hands the body
pieces to one list append, and the stream parser sees the whole read once. A request is one precomputed byte
string and one future. docs/loadgen.md has the measurements behind the choice.

Every request gets a fresh answer or an error kind, never a hang: connect errors, timeouts (the connection is
dropped, never reused half-read), disconnects, malformed HTTP and non-200 answers are told apart.
"""

from __future__ import annotations

import asyncio
import ssl
from time import perf_counter
from urllib.parse import urlsplit

import httptools

from o2v import __version__
from o2v.loadgen.protocol import Record, StreamParser, error_text

_MAX_ERROR_BODY = 64 * 1024


class WireError(Exception):
    """One failed request: ``kind`` is the error class a report counts (connect, timeout, disconnect, ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self.record: Record | None = None
        self.stream: StreamParser | None = None
        self.parts: list[bytes] = []
        self.requests = 0  # started on this connection
        self.answered = False  # any byte of the current request's answer came
        self.status = 0
        self.keep_alive = True
        self.complete = False
        self.error_body = b""

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio subclasses

    def data_received(self, data: bytes) -> None:
        now = perf_counter()
        self.answered = True
        if self.waiter is None:  # bytes nobody asked for: the connection cannot be trusted any more
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._settle(WireError("bad_response", f"malformed HTTP response: {exc}"))
            self.close()
            return
        parts = self.parts
        if parts:
            block = parts[0] if len(parts) == 1 else b"".join(parts)
            parts.clear()
            if self.status == 200:
                assert self.stream is not None
                self.stream.feed(block, now)
            elif len(self.error_body) < _MAX_ERROR_BODY:
                self.error_body += block
        if self.complete:
            if self.stream is not None and self.status == 200:
                self.stream.finish(now)
            if not self.keep_alive:
                self.close()
            self._settle(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            now = perf_counter()
            if self.stream is not None and self.status == 200:
                self.stream.finish(now)  # a body that ends with the connection (no length, no chunks)
                record = self.record
                if record is not None and record.done and record.error_kind is None:
                    self._settle(None)
                    return
            reason = f": {exc}" if exc else ""
            self._settle(WireError("disconnect", f"the server closed the connection mid-response{reason}"))

    # -- llhttp callbacks --------------------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # only meaningful before the message completes
        if self.record is not None:
            self.record.status = self.status

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    # -- one request -------------------------------------------------------------------------------
    def start(self, request: bytes, record: Record, stream: StreamParser) -> asyncio.Future[None]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.record, self.stream = record, stream
        self.status, self.complete, self.error_body, self.answered = 0, False, b"", False
        self.requests += 1
        self.transport.write(request)
        return self.waiter

    def _settle(self, error: WireError | None) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)

    def finished(self) -> None:
        """The request is over (answered, failed or cancelled): the next one starts from a clean slate."""
        self.waiter, self.record, self.stream = None, None, None
        self.parts.clear()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class WireClient:
    """POSTs precomputed requests to one server over a pool of keep-alive connections."""

    def __init__(
        self,
        base_url: str,
        path: str,
        *,
        headers: dict[str, str],
        request_timeout_s: float,
        connect_timeout_s: float,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/")
        self.path = self.prefix + path
        host_header = parts.netloc.rsplit("@", 1)[-1]
        fixed = {"Host": host_header, "User-Agent": f"o2v/{__version__}", "Accept": "*/*", **headers}
        self.head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self.request_timeout_s = request_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.idle: list[Connection] = []
        self.open: set[Connection] = set()

    def encode(self, body: bytes) -> bytes:
        """The whole request for one body, built once and written as is for every send."""
        return (
            b"POST " + self.path.encode("latin-1") + b" HTTP/1.1\r\n" + self.head
            + b"Content-Length: %d\r\n\r\n" % len(body) + body
        )  # fmt: skip

    async def send(self, request: bytes, record: Record, stream: StreamParser) -> None:
        """Send one request and feed its body to ``stream``; raise WireError when it fails."""
        conn = await self._acquire()
        try:
            await self._exchange(conn, request, record, stream)
        except WireError as exc:
            if not (conn.requests > 1 and exc.kind == "disconnect" and not conn.answered):
                raise
            # A kept-alive connection the server had closed as it was reused (uvicorn closes idle ones after
            # 5 s): not one byte of answer came, so the request goes once more on a new connection, as HTTP
            # clients do. The time lost stays in this request's latency.
            await self._exchange(await self._acquire(fresh=True), request, record, stream)

    async def _exchange(self, conn: Connection, request: bytes, record: Record, stream: StreamParser) -> None:
        waiter = conn.start(request, record, stream)
        timer = asyncio.get_running_loop().call_later(self.request_timeout_s, self._expire, conn)
        try:
            await waiter
            if conn.status != 200:
                record.error_kind, record.error_message = f"http_{conn.status}", error_text(conn.error_body)
        except BaseException:  # failed or cancelled (Ctrl-C, a stopped level): never reuse a half-read answer
            conn.close()
            raise
        finally:
            timer.cancel()
            conn.finished()
            if conn.closed:
                self.open.discard(conn)
            else:
                self.idle.append(conn)

    def _expire(self, conn: Connection) -> None:
        conn._settle(WireError("timeout", f"no complete answer in {self.request_timeout_s:g} s"))

    async def _acquire(self, fresh: bool = False) -> Connection:
        while self.idle and not fresh:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
            self.open.discard(conn)
        loop = asyncio.get_running_loop()
        try:
            transport, conn = await asyncio.wait_for(
                loop.create_connection(Connection, self.host, self.port, ssl=self.ssl),
                self.connect_timeout_s,
            )
        except TimeoutError as exc:
            raise WireError(
                "connect", f"no connection to {self.host}:{self.port} in {self.connect_timeout_s:g} s"
            ) from exc
        except OSError as exc:
            raise WireError("connect", f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}") from exc
        conn.transport = transport  # uvloop calls connection_made one loop turn after returning it
        self.open.add(conn)
        return conn

    def close(self) -> None:
        for conn in list(self.open):
            conn.close()
        self.open.clear()
        self.idle.clear()
