"""The gateway's upstream client on raw loopback servers: keep-alive reuse and its one retry, HEAD, chunked
bodies piece by piece, garbage, early close, silence and refusal, each as the proxy sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from o2v.gateway.upstream import Upstream, UpstreamError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> AsyncIterator[Upstream]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream = Upstream("ollama", f"http://127.0.0.1:{port}", connect_timeout_s=1, response_timeout_s=0.5,
                        idle_timeout_s=0.5)  # fmt: skip
    await upstream.start()
    try:
        yield upstream
    finally:
        await upstream.close()
        server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")), 0)
    return head + (await reader.readexactly(length) if length else b"")


@pytest.fixture
async def keep_alive_then_close() -> AsyncIterator[tuple[Upstream, list[int]]]:
    """Answers one request per connection, then closes it without saying so (Connection header absent)."""
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    async for upstream in _serve(handler):
        yield upstream, connections


async def test_a_closed_keep_alive_connection_is_retried_once_on_a_new_one(
    keep_alive_then_close: tuple[Upstream, list[int]],
) -> None:
    upstream, connections = keep_alive_then_close
    for _ in range(3):
        async with upstream.request("POST", "/api/chat", headers={}, body=b"{}") as response:
            assert response.status == 200
            assert await upstream.read_all(response) == b"{}"
        await asyncio.sleep(0.1)  # the server has closed the connection by now
    assert len(connections) == 3


async def test_chunked_bodies_arrive_piece_by_piece_and_head_needs_no_body() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                request = await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            if request.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n")
                continue
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-ndjson\r\n\r\n")
            for piece in (b'{"a":1}\n', b'{"b":2}\n'):
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(0.05)
            writer.write(b"0\r\n\r\n")

    async for upstream in _serve(handler):
        async with upstream.request("HEAD", "/", headers={}, body=None) as head:
            assert (head.status, head.content_length) == (200, 17)
        async with upstream.request("POST", "/api/chat", headers={}, body=b"{}") as response:
            assert response.content_type == "application/x-ndjson"
            pieces = []
            while chunk := await upstream.read_chunk(response):
                pieces.append(chunk)
        assert pieces == [b'{"a":1}\n', b'{"b":2}\n']  # two reads: nothing was held back


async def test_garbage_early_close_silence_and_refusal_become_upstream_errors() -> None:
    behaviour: dict[str, bytes | None] = {}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        reply = behaviour["reply"]
        if reply is None:
            await asyncio.sleep(2)  # silent
        else:
            writer.write(reply)
            await writer.drain()
        writer.close()

    async for upstream in _serve(handler):
        cases = {
            b"SMTP ready\r\n\r\n": (502, "disconnect", "invalid HTTP response"),
            b"": (502, "disconnect", "closed the connection"),
            None: (504, "timeout", "did not answer POST /x within 0.5s"),
        }
        for reply, (status, kind, words) in cases.items():
            behaviour["reply"] = reply
            with pytest.raises(UpstreamError) as caught:
                async with upstream.request("POST", "/x", headers={}, body=b"{}"):
                    pass
            assert (caught.value.status, caught.value.kind) == (status, kind)
            assert words in str(caught.value)
        behaviour["reply"] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"  # cut short
        async with upstream.request("POST", "/x", headers={}, body=b"{}") as response:
            with pytest.raises(UpstreamError, match="broke off the response"):
                await upstream.read_all(response)
    refused = Upstream("vllm", "http://127.0.0.1:9", connect_timeout_s=1)
    await refused.start()
    with pytest.raises(UpstreamError, match="vLLM at http://127.0.0.1:9 is not reachable") as caught:
        async with refused.request("GET", "/v1/models", headers={}, body=None):
            pass
    assert caught.value.kind == "connect"
