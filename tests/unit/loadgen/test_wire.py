"""The load generator's HTTP/1.1 client against a raw loopback server that misbehaves on purpose.

Each server below speaks bytes, not a framework, so the client meets exactly the framing it must survive:
keep-alive, Connection: close, Content-Length and read-until-close bodies, one byte per packet, garbage,
a server that hangs up mid-answer or never answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from o2v.loadgen.protocol import Record, SSEParser
from o2v.loadgen.wire import WireClient, WireError

TOKENS = 5


def sse_body(tokens: int = TOKENS) -> bytes:
    events = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    events += [{"choices": [{"index": 0, "delta": {"content": f"t{i} "}}]} for i in range(tokens)]
    events += [{"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": tokens}}]
    return b"".join(b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in events) + (
        b"data: [DONE]\n\n"
    )


def chunked(body: bytes, piece: int = 40) -> bytes:
    parts = [body[i : i + piece] for i in range(0, len(body), piece)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


CHUNKED_OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n" + chunked(
    sse_body()
)


@dataclass
class RawServer:
    """Answers every request with ``reply(n)`` (n counts requests); records connections and requests."""

    reply: Callable[[int], bytes | None]
    close_after: bool = False
    byte_by_byte: bool = False
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                answer = self.reply(len(self.requests))
                if answer == b"":  # hang up without a word, as a server whose keep-alive timer just fired
                    return
                if answer is None:  # hang: never answer
                    await asyncio.sleep(3600)
                    return
                if self.byte_by_byte:
                    for i in range(len(answer)):
                        writer.write(answer[i : i + 1])
                        await writer.drain()
                        await asyncio.sleep(0)
                else:
                    writer.write(answer)
                    await writer.drain()
                if self.close_after:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., asyncio.Future[tuple[RawServer, str]]]]:
    servers: list[asyncio.Server] = []

    async def start(reply: Callable[[int], bytes | None], **opts: bool) -> tuple[RawServer, str]:
        raw = RawServer(reply, **opts)
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append(server)
        return raw, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def client(url: str, timeout_s: float = 5.0) -> WireClient:
    return WireClient(url, "/v1/chat/completions", headers={"Content-Type": "application/json"},
                      request_timeout_s=timeout_s, connect_timeout_s=2.0)  # fmt: skip


async def ask(c: WireClient) -> Record:
    record = Record(level=0, intended_s=0.0)
    await c.send(c.encode(b'{"stream":true}'), record, SSEParser(record))
    return record


async def test_keep_alive_reuses_one_connection_and_sends_a_proper_request(serve: Callable) -> None:
    raw, url = await serve(lambda n: CHUNKED_OK)
    c = client(url)
    for _ in range(5):
        record = await ask(c)
        assert (record.status, record.done, record.usage_tokens, len(record.token_times)) == (200, True, TOKENS, 5)
    assert raw.connections == 1
    head = raw.requests[0].decode()
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert f"Host: {url.removeprefix('http://')}\r\n" in head
    assert head.endswith('Content-Length: 15\r\n\r\n{"stream":true}')
    c.close()


async def test_connection_close_opens_a_new_connection(serve: Callable) -> None:
    answer = CHUNKED_OK.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1)
    raw, url = await serve(lambda n: answer, close_after=True)
    c = client(url)
    for _ in range(3):
        assert (await ask(c)).done
    assert raw.connections == 3
    assert not c.idle


async def test_every_split_of_the_stream_counts_the_same(serve: Callable) -> None:
    _, url = await serve(lambda n: CHUNKED_OK, byte_by_byte=True)
    record = await ask(client(url))
    assert (record.done, record.usage_tokens, len(record.token_times), record.error_kind) == (True, TOKENS, 5, None)


async def test_content_length_and_read_until_close_bodies(serve: Callable) -> None:
    body = sse_body()
    sized = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    _, url = await serve(lambda n: sized)
    assert (await ask(client(url))).done
    until_close = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + body
    _, url = await serve(lambda n: until_close, close_after=True)
    record = await ask(client(url))
    assert (record.done, len(record.token_times), record.error_kind) == (True, 5, None)


async def test_server_hanging_up_mid_answer_is_a_disconnect(serve: Callable) -> None:
    cut = CHUNKED_OK[: len(CHUNKED_OK) // 2]
    _, url = await serve(lambda n: cut, close_after=True)
    c = client(url)
    with pytest.raises(WireError) as err:
        await ask(c)
    assert err.value.kind == "disconnect"
    assert not c.open
    assert not c.idle


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_once(serve: Callable) -> None:
    raw, url = await serve(lambda n: b"" if n == 2 else CHUNKED_OK)
    c = client(url)
    assert (await ask(c)).done
    record = await ask(c)  # the server drops the reused connection on receipt: sent again on a new one
    assert (record.done, record.error_kind, len(record.token_times)) == (True, None, 5)
    assert raw.connections == 2
    assert len(raw.requests) == 3


async def test_a_fresh_connection_dropped_is_not_retried(serve: Callable) -> None:
    raw, url = await serve(lambda n: b"")
    with pytest.raises(WireError) as err:
        await ask(client(url))
    assert err.value.kind == "disconnect"
    assert len(raw.requests) == 1


async def test_garbage_is_a_bad_response(serve: Callable) -> None:
    _, url = await serve(lambda n: b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    with pytest.raises(WireError) as err:
        await ask(client(url))
    assert err.value.kind == "bad_response"


async def test_error_status_keeps_the_servers_message(serve: Callable) -> None:
    body = b'{"error":{"message":"The model `x` does not exist.","type":"NotFoundError","code":404}}'
    answer = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body), body)  # fmt: skip
    raw, url = await serve(lambda n: answer)
    c = client(url)
    record = await ask(c)
    assert (record.status, record.error_kind) == (404, "http_404")
    assert record.error_message == "The model `x` does not exist."
    assert (await ask(c)).error_kind == "http_404"
    assert raw.connections == 1  # an error answer read to its end leaves the connection reusable


async def test_a_silent_server_times_out_and_its_connection_is_dropped(serve: Callable) -> None:
    raw, url = await serve(lambda n: None if n == 1 else CHUNKED_OK)
    c = client(url, timeout_s=0.3)
    with pytest.raises(WireError) as err:
        await ask(c)
    assert err.value.kind == "timeout"
    assert not c.open
    assert (await ask(c)).done
    assert raw.connections == 2


async def test_nothing_listening_is_a_connect_error(port: int) -> None:
    with pytest.raises(WireError) as err:
        await ask(client(f"http://127.0.0.1:{port}"))
    assert err.value.kind == "connect"
    assert str(port) in err.value.message


async def test_cancelling_a_request_never_reuses_its_connection(serve: Callable) -> None:
    raw, url = await serve(lambda n: None if n == 1 else CHUNKED_OK)
    c = client(url)
    task = asyncio.ensure_future(ask(c))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not c.idle
    assert not c.open
    assert (await ask(c)).done
    assert raw.connections == 2


def test_urls_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="not an http"):
        client("ftp://example.com")
    c = client("https://example.com:8443/prefix/")
    assert (c.host, c.port, c.ssl is not None) == ("example.com", 8443, True)
    assert c.encode(b"{}").startswith(b"POST /prefix/v1/chat/completions HTTP/1.1\r\nHost: example.com:8443\r\n")
