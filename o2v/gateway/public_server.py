"""The gateway's public side: a small keep-alive HTTP/1.1 server on asyncio + llhttp (httptools), the counterpart of
:mod:`o2v.gateway.lean_http` on the upstream side.

Why not aiohttp's server: per request it builds a request object, a payload stream, a response object with its
own header machinery, and a writer with several layers. Measured on the gateway, that work sat on every request's
way to its first token and was most of what the gateway added to time to first token. This server does only what
the gateway needs:

- parse a request and collect its body, refusing it (``Request.too_large``) past ``max_body_bytes``;
- hand it to one handler, which returns a whole ``Reply`` or a ``Stream`` it has written (see public_http);
- keep the connection alive when the client allows it, and answer pipelined requests in order;
- send ``100 Continue`` when asked, refuse what is not HTTP with the reason, close idle connections, and on
  shutdown let answers in flight finish.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable

import httptools

from o2v.gateway.public_http import Reply, Request, Stream, encode_head

log = logging.getLogger("o2v.gateway")

MAX_HEAD_BYTES = 1024 * 1024  # Go's http.Server default, so a request Ollama accepts is accepted here too
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


Handler = Callable[[Request], Awaitable[Reply | Stream]]
ErrorReply = Callable[[Request, int, str], Reply]


class _Connection(asyncio.Protocol):
    """One client connection: parses requests, serves them one at a time in order (pipelined ones wait)."""

    def __init__(self, server: PublicServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.closing = False  # close after the answer in progress
        self.paused = False
        self._drain: asyncio.Future[None] | None = None
        self._queue: collections.deque[Request] = collections.deque()
        self._serving = False
        self._discarding = False  # the rest of a refused body: read (so closing sends no reset) but not parsed
        self.last_active = 0.0
        # the message being parsed
        self._target = b""
        self._raw: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._request: Request | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio subclasses
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if isinstance(peer, tuple) else None
        self.last_active = self.server.loop.time()
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.last_active = self.server.loop.time()
        if self._discarding:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.closing = True  # the request itself is served; no protocol switch follows it
        except httptools.HttpParserError as exc:
            # An exception raised in a callback comes back wrapped, the original as its context.
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse(431, f"the request's head is over {MAX_HEAD_BYTES} bytes")
            else:
                self._refuse(400, f"the request is not valid HTTP/1.1: {exc.__context__ or exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.forget(self)
        self._queue.clear()
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ConnectionResetError("the client closed the connection"))

    def eof_received(self) -> bool:
        """The client has sent all it will (a half-close, as ``curl --no-keepalive`` or a shell script may): the
        answer it is owed still goes out, then the connection closes."""
        self.closing = True
        return self._serving

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # -- httptools callbacks ------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._target, self._raw, self._head_bytes = b"", [], 0
        self._body, self._body_bytes, self._request = [], 0, None

    def on_url(self, url: bytes) -> None:
        self._target += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name, value))
        self._count_head(len(name) + len(value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        request = self._request = Request(
            self, parser.get_method().decode("latin-1"), self._target, parser.get_http_version(), self._raw,
            parser.should_keep_alive(),
        )  # fmt: skip
        limit = self.server.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            self._refuse_body(request)  # answered now: the body is not read
        elif request.header(b"expect") == "100-continue":
            self.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        request = self._request
        if request is None or request.too_large:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self.server.max_body_bytes:
            self._body = []
            self._refuse_body(request)
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        request = self._request
        if request is None or request.too_large:
            return
        body = self._body
        request.body = body[0] if len(body) == 1 else b"".join(body)
        self._dispatch(request)

    # -- serving ------------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client closed the connection")
        transport.write(data)

    async def drained(self) -> None:
        if self.paused:
            self._drain = self.server.loop.create_future()
            await self._drain

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _HeadTooLarge

    def _refuse_body(self, request: Request) -> None:
        """A body over the limit: the handler answers (in the client API's shape), then the connection closes,
        so the rest of the body is never read."""
        request.too_large = True
        request.keep_alive = False
        self.closing = True
        self._discarding = True
        self._dispatch(request)

    def _refuse(self, status: int, message: str) -> None:
        """A request that cannot be parsed: answered with the reason and the connection closed, unless an answer is
        in progress (then it only closes after it)."""
        self.closing = True
        if self.transport is not None:
            self.transport.pause_reading()
        if self._serving:
            return
        body = f"{message}\n".encode()
        head = encode_head(status, None, (("Content-Type", "text/plain; charset=utf-8"),
                                          ("Content-Length", str(len(body)))), keep_alive=False)  # fmt: skip
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()

    def _close(self, *, linger: bool) -> None:
        """Close now, or (``linger``) a moment later: a client still sending a refused body would otherwise get a
        connection reset instead of the answer that explains it."""
        if self.transport is None or self.transport.is_closing():
            return
        if linger:
            self.server.loop.call_later(1.0, self.transport.close)
        else:
            self.transport.close()

    def _dispatch(self, request: Request) -> None:
        if self._serving:
            self._queue.append(request)  # pipelined: answered in order, after the one in progress
            return
        self._serving = True
        self.server.loop.create_task(self._serve(request))

    async def _serve(self, request: Request | None) -> None:
        server = self.server
        try:
            while request is not None:
                try:
                    reply = await server.handler(request)
                except Exception as exc:
                    log.exception("the gateway failed on %s %s", request.method, request.path)
                    if request.stream is not None and request.stream.head_sent:
                        self._close(linger=False)  # cut off, with no clean end: the client sees it is incomplete
                        return
                    reply = server.error_reply(request, 500, f"the gateway failed: {type(exc).__name__}: {exc}")
                try:
                    await self._finish(request, reply)
                except ConnectionError:
                    request.keep_alive = False
                if not request.keep_alive or self.closing:
                    self._close(linger=request.too_large)
                    return
                self.last_active = server.loop.time()
                request = self._queue.popleft() if self._queue else None
        finally:
            self._serving = False

    async def _finish(self, request: Request, reply: Reply | Stream) -> None:
        """End the answer: a stream's last bytes, or a whole reply written as a stream that is all here at once (one
        write, with its length)."""
        if isinstance(reply, Reply):
            whole = Stream(request, status=reply.status, reason=reply.reason, headers=reply.headers)
            await whole.write_eof(reply.body)
            return
        if reply.closes:
            request.keep_alive = False
        await reply.write_eof()


class _HeadTooLarge(Exception):
    pass


class PublicServer:
    """Listens on one address and serves every request with ``handler``."""

    def __init__(self, handler: Handler, error_reply: ErrorReply, *, max_body_bytes: int,
                 keepalive_timeout_s: float = 75.0) -> None:  # fmt: skip
        self.handler = handler
        self.error_reply = error_reply
        self.max_body_bytes = max_body_bytes
        self.keepalive_timeout_s = keepalive_timeout_s
        self.connections: set[_Connection] = set()
        self._none_left = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int, *, backlog: int = 4096) -> None:
        self._server = await self.loop.create_server(
            lambda: _Connection(self), host, port, backlog=backlog, reuse_address=True
        )
        self._sweeper = self.loop.create_task(self._close_idle(), name="o2v-gateway-idle-connections")

    async def close(self, grace_s: float = 60.0) -> None:
        """Stop accepting; close idle connections now and the others once their answer in progress ends (within
        ``grace_s``, then they are cut)."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn.closing = True
            if not conn._serving and conn.transport is not None:
                conn.transport.close()
        if self.connections:
            self._none_left.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._none_left.wait(), grace_s)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()

    def forget(self, conn: _Connection) -> None:
        self.connections.discard(conn)
        if not self.connections:
            self._none_left.set()

    async def _close_idle(self) -> None:
        every = min(10.0, self.keepalive_timeout_s / 2)
        while True:
            await asyncio.sleep(every)
            cutoff = self.loop.time() - self.keepalive_timeout_s
            for conn in list(self.connections):
                if not conn._serving and conn.last_active < cutoff and conn.transport is not None:
                    conn.transport.close()
