"""The gateway's public HTTP/1.1 server on raw loopback sockets, the answers read with h11 (an independent parser):
keep-alive, framing (length, chunked, HTTP/1.0, HEAD), pipelining, 100-continue, bodies over the limit, requests
that are not HTTP, handler failures, slow readers, idle connections and a graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import h11
import pytest

from o2v.gateway.public_http import Reply, Request, Stream
from o2v.gateway.public_server import MAX_HEAD_BYTES, PublicServer

STEP_S = 5.0  # a bound on each wait: the tests wait for events, never for time
LIMIT = 1024

Handler = Callable[[Request], Awaitable[Reply | Stream]]


class Served:
    def __init__(self, server: PublicServer, port: int) -> None:
        self.server, self.port = server, port
        self.seen: list[Request] = []


def _failed(request: Request, status: int, message: str) -> Reply:
    return Reply(b'{"error": "%s"}' % message.encode(), status=status)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    started: list[PublicServer] = []

    async def start(handler: Handler, **options: float) -> Served:
        served: Served

        async def recording(request: Request) -> Reply | Stream:
            served.seen.append(request)
            return await handler(request)

        server = PublicServer(recording, _failed, max_body_bytes=LIMIT, **options)
        await server.start("127.0.0.1", 0)
        started.append(server)
        listening = server._server
        assert isinstance(listening, asyncio.Server)
        served = Served(server, listening.sockets[0].getsockname()[1])
        return served

    yield start
    for server in started:
        await server.close(grace_s=1)


async def echo(request: Request) -> Reply:
    return Reply(b"%s %s %s" % (request.method.encode(), request.path_qs.encode(), request.body),
                 content_type="text/plain", headers=[("X-Seen-Path", request.path)])  # fmt: skip


async def pieces(request: Request) -> Stream:
    stream = Stream(request, headers=[("Content-Type", "application/x-ndjson")])
    stream.send_head()
    for i in range(3):
        await stream.write(b'{"piece": %d}\n' % i)
    await stream.write_eof(b'{"done": true}\n')
    return stream


class Client:
    """A raw connection; answers parsed by h11."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def to(cls, served: Served) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", served.port))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def event(self) -> h11.Event:
        while True:
            event = self.h11.next_event()
            if isinstance(event, h11.Event):
                return event
            self.h11.receive_data(await asyncio.wait_for(self.reader.read(65536), STEP_S))

    async def answer(self, method: str = "GET") -> tuple[h11.Response, bytes]:
        """The next answer, to a request of ``method`` already sent raw (h11 is told of it only to read the answer:
        a HEAD answer has no body)."""
        self.h11.send(h11.Request(method=method, target="/", headers=[("Host", "gw"), ("Content-Length", "0")]))
        self.h11.send(h11.EndOfMessage())
        head = await self.event()
        while isinstance(head, h11.InformationalResponse):
            head = await self.event()
        assert isinstance(head, h11.Response), head
        body = b""
        while not isinstance(event := await self.event(), h11.EndOfMessage):
            assert isinstance(event, h11.Data), event
            body += event.data
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        return head, body

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(65536), STEP_S) == b""

    def close(self) -> None:
        self.writer.close()


def get(path: str = "/", *, extra: bytes = b"") -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: gw\r\n%s\r\n" % (path.encode(), extra)


def post(body: bytes, path: str = "/api/chat", extra: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n%s\r\n%s" % (path.encode(), len(body), extra, body)


def header(response: h11.Response, name: bytes) -> bytes | None:
    return next((v for n, v in response.headers if n == name.lower()), None)


async def test_requests_on_one_kept_alive_connection(serve: Callable[..., Awaitable[Served]]) -> None:
    served = await serve(echo)
    client = await Client.to(served)
    client.send(post(b'{"model": "m"}', "/api/chat?x=1"))
    first, body = await client.answer("POST")
    assert (first.status_code, body) == (200, b'POST /api/chat?x=1 {"model": "m"}')
    assert header(first, b"content-length") == str(len(body)).encode()
    assert header(first, b"date") is not None
    assert header(first, b"connection") is None
    client.send(get("/api/tags%2Fx", extra=b"X-Team: a\r\nx-team: b\r\n"))
    second, body = await client.answer()
    assert body == b"GET /api/tags%2Fx "
    assert header(second, b"x-seen-path") == b"/api/tags/x"
    assert served.seen[1].header(b"x-team") == "a, b"
    assert served.seen[1].remote == "127.0.0.1"
    client.close()


async def test_a_stream_is_chunked_and_a_whole_answer_has_its_length(serve: Callable[..., Awaitable[Served]]) -> None:
    async def whole_at_once(request: Request) -> Stream:
        stream = Stream(request, headers=[("Content-Type", "application/x-ndjson")])
        await stream.write_eof(b'{"done": true}\n')
        return stream

    async def route(request: Request) -> Reply | Stream:
        return await (pieces(request) if request.path == "/pieces" else whole_at_once(request))

    served = await serve(route)
    client = await Client.to(served)
    client.send(get("/pieces"))
    streamed, body = await client.answer()
    assert header(streamed, b"transfer-encoding") == b"chunked"
    assert header(streamed, b"content-length") is None
    assert body.splitlines() == [b'{"piece": 0}', b'{"piece": 1}', b'{"piece": 2}', b'{"done": true}']
    client.send(get("/whole"))
    whole, body = await client.answer()
    assert header(whole, b"content-length") == b"15"
    assert body == b'{"done": true}\n'
    client.close()


async def test_an_http_1_0_client_reads_a_stream_to_the_close(serve: Callable[..., Awaitable[Served]]) -> None:
    served = await serve(pieces)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"GET /pieces HTTP/1.0\r\n\r\n")
    raw = await asyncio.wait_for(reader.read(), STEP_S)  # to the end: the server closes
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"chunked" not in head.lower()
    assert b"connection: close" in head.lower()
    assert body.count(b"\n") == 4
    assert body.endswith(b'{"done": true}\n')
    writer.close()


async def test_head_has_a_length_and_no_body(serve: Callable[..., Awaitable[Served]]) -> None:
    served = await serve(echo)
    client = await Client.to(served)
    client.send(b"HEAD / HTTP/1.1\r\nHost: gw\r\n\r\n")
    response, body = await client.answer("HEAD")
    assert response.status_code == 200
    assert body == b""
    assert header(response, b"content-length") == b"7"
    client.send(get("/"))  # no stray body bytes were left on the connection before this answer
    response, body = await client.answer()
    assert body == b"GET / "
    client.close()


async def test_no_content_announces_no_body(serve: Callable[..., Awaitable[Served]]) -> None:
    async def nothing(request: Request) -> Reply:
        return Reply(status=204, content_type=None) if request.path == "/none" else await echo(request)

    served = await serve(nothing)
    client = await Client.to(served)
    client.send(get("/none") + get("/after"))
    response, body = await client.answer()
    assert response.status_code == 204
    assert header(response, b"content-length") is None
    assert header(response, b"transfer-encoding") is None
    assert (await client.answer())[1] == b"GET /after "  # the connection stays in step
    client.close()


async def test_pipelined_requests_are_answered_in_order(serve: Callable[..., Awaitable[Served]]) -> None:
    async def slow_first(request: Request) -> Reply:
        if request.path == "/slow":
            await asyncio.sleep(0.05)
        return await echo(request)

    served = await serve(slow_first)
    client = await Client.to(served)
    client.send(get("/slow") + get("/fast") + post(b"x", "/last"))
    bodies = [(await client.answer(method))[1] for method in ("GET", "GET", "POST")]
    assert bodies == [b"GET /slow ", b"GET /fast ", b"POST /last x"]
    client.close()


async def test_expect_100_continue_is_answered_before_the_body(serve: Callable[..., Awaitable[Served]]) -> None:
    served = await serve(echo)
    client = await Client.to(served)
    client.send(b"POST /api/chat HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), STEP_S)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.send(b"{}")
    response, body = await client.answer("POST")
    assert (response.status_code, body) == (200, b"POST /api/chat {}")
    client.close()


async def test_a_declared_body_over_the_limit_is_answered_without_being_read(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    async def refuse(request: Request) -> Reply:
        assert request.too_large
        assert request.body == b""
        return Reply(b'{"error": "too large"}', status=413)

    served = await serve(refuse)
    client = await Client.to(served)
    client.send(b"POST /api/chat HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n" % (50 * LIMIT))
    for _ in range(10):  # the client goes on sending: it still gets the answer, not a reset
        client.send(b"x" * (4 * LIMIT))
    await client.writer.drain()
    response, body = await client.answer("POST")
    assert response.status_code == 413
    assert header(response, b"connection") == b"close"
    assert await client.closed()
    assert served.seen[0].content_length == 50 * LIMIT


async def test_a_chunked_body_over_the_limit_is_refused(serve: Callable[..., Awaitable[Served]]) -> None:
    async def refuse(request: Request) -> Reply:
        return Reply(b"{}", status=413 if request.too_large else 200)

    served = await serve(refuse)
    client = await Client.to(served)
    chunk = b"%x\r\n%s\r\n" % (LIMIT // 2, b"y" * (LIMIT // 2))
    client.send(b"POST /api/generate HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3)
    response, _ = await client.answer("POST")
    assert response.status_code == 413
    assert served.seen[0].content_length is None
    client.send(b"POST /api/generate HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + b"0\r\n\r\n")
    assert await client.closed()


@pytest.mark.parametrize(
    ("request_bytes", "status", "reason"),
    [
        (b"\x00\x01 not a request\r\n\r\n", 400, b"not valid HTTP/1.1"),
        (b"GET / HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n", 431, b"head is over"),
    ],
)
async def test_what_is_not_http_gets_the_reason_and_a_close(
    serve: Callable[..., Awaitable[Served]], request_bytes: bytes, status: int, reason: bytes
) -> None:
    served = await serve(echo)
    client = await Client.to(served)
    client.send(request_bytes)
    raw = await asyncio.wait_for(client.reader.read(), STEP_S)
    assert raw.startswith(b"HTTP/1.1 %d " % status)
    assert reason in raw
    assert b"Connection: close" in raw
    assert served.seen == []


async def test_a_failing_handler_gets_the_error_reply_and_a_begun_stream_is_cut(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    async def fails(request: Request) -> Stream:
        if request.path == "/midway":
            stream = Stream(request)
            await stream.write(b"first piece")
        raise RuntimeError("boom")

    served = await serve(fails)
    client = await Client.to(served)
    client.send(get("/early"))
    response, body = await client.answer()
    assert response.status_code == 500
    assert b"RuntimeError: boom" in body
    client.send(get("/midway"))
    raw = await asyncio.wait_for(client.reader.read(), STEP_S)  # the connection closes after what was sent
    assert b"first piece" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # no clean end of body: the client sees the stream was cut


async def test_a_client_that_leaves_mid_stream_fails_the_next_write(serve: Callable[..., Awaitable[Served]]) -> None:
    failures: list[BaseException] = []
    gone = asyncio.Event()

    async def endless(request: Request) -> Stream:
        stream = Stream(request)
        try:
            while True:
                await stream.write(b"x" * 1024)
                await asyncio.sleep(0.01)
        except ConnectionError as exc:
            failures.append(exc)
            gone.set()
        return stream

    served = await serve(endless)
    client = await Client.to(served)
    client.send(get("/"))
    await asyncio.wait_for(client.reader.read(1), STEP_S)
    client.writer.transport.abort()
    await asyncio.wait_for(gone.wait(), STEP_S)
    assert isinstance(failures[0], ConnectionError)


async def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    async def slow(request: Request) -> Reply:
        await asyncio.sleep(0.05)  # the client's end of input arrives while the answer is being made
        return await echo(request)

    served = await serve(slow)
    client = await Client.to(served)
    client.send(post(b"{}"))
    client.writer.write_eof()
    response, body = await client.answer("POST")
    assert body == b"POST /api/chat {}"
    assert header(response, b"connection") == b"close"
    assert await client.closed()


async def test_a_slow_reader_holds_the_writer_back_and_gets_every_byte(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    piece, count = b"z" * 65536, 256  # 16 MiB: far more than the transport's buffer
    buffered: list[int] = []

    async def big(request: Request) -> Stream:
        stream = Stream(request, content_length=len(piece) * count)
        transport = getattr(request.conn, "transport")  # noqa: B009 - the server's own connection, not the Wire
        for _ in range(count):
            await stream.write(piece)
            buffered.append(transport.get_write_buffer_size())
        await stream.write_eof()
        return stream

    served = await serve(big)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port, limit=1024)
    writer.write(get("/"))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_S)
    assert b"Content-Length: %d" % (len(piece) * count) in head
    await asyncio.sleep(0.2)  # not reading: the server must stop writing, not buffer 16 MiB
    received = 0
    while received < len(piece) * count:
        received += len(await asyncio.wait_for(reader.read(1 << 20), STEP_S))
    assert received == len(piece) * count
    # Without waiting for the client, the 16 MiB would pile up in the server's buffer while the client sleeps.
    assert len(buffered) == count
    assert max(buffered) < 1 << 20, max(buffered)
    writer.close()


async def test_idle_connections_are_closed(serve: Callable[..., Awaitable[Served]]) -> None:
    served = await serve(echo, keepalive_timeout_s=0.2)
    client = await Client.to(served)
    client.send(get("/"))
    await client.answer()
    assert await client.closed()  # within the sweep after 0.2 s idle, well inside STEP_S


async def test_shutdown_lets_the_answer_in_flight_finish_and_refuses_new_connections(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    release = asyncio.Event()

    async def held(request: Request) -> Stream:
        stream = Stream(request)
        stream.send_head()
        await release.wait()
        await stream.write_eof(b"finished")
        return stream

    served = await serve(held)
    busy, idle = await Client.to(served), await Client.to(served)
    busy.send(get("/"))
    head = await busy.event()
    assert isinstance(head, h11.Response)
    closing = asyncio.create_task(served.server.close(grace_s=STEP_S))
    assert await idle.closed()  # an idle connection goes at once
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", served.port)
    release.set()
    data = await busy.event()
    assert isinstance(data, h11.Data)
    assert data.data == b"finished"
    assert isinstance(await busy.event(), h11.EndOfMessage)
    await asyncio.wait_for(closing, STEP_S)
    assert await busy.closed()
