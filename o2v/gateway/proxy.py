"""Pass-through: a request forwarded to its backend as it is, the response streamed back chunk by chunk.

Nothing is buffered: each read from the backend is written to the client before the next read, so the
gaps between chunks are the backend's own. Only the OpenAI model name may be rewritten (Ollama tag -> vLLM
served name) and, for vLLM, the client's Authorization replaced by vLLM's key.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from o2v.gateway.observe import Exchange
from o2v.gateway.public_http import Reply, Request, Stream
from o2v.gateway.replies import BACKEND_HEADER, error_response, stream_error_chunk
from o2v.gateway.upstream import Upstream, UpstreamError

# RFC 9110 hop-by-hop fields, and those the gateway sets itself.
_REQUEST_DROP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
     "proxy-authorization", "host", "content-length", "expect"}
)  # fmt: skip
_RESPONSE_DROP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server", "trailer", "upgrade"}
)
_STREAM_TYPES = ("text/event-stream", "application/x-ndjson")
_TOKENS = re.compile(rb'"(?:eval_count|completion_tokens)":\s*(\d+)')
_TAIL_BYTES = 4096


_FORWARD_DROP = frozenset(name.encode() for name in (*_REQUEST_DROP, "x-forwarded-for"))
_FORWARD_DROP_AUTHORIZATION = _FORWARD_DROP | {b"authorization"}


def forward_head(request: Request, *, drop_authorization: bool) -> bytes:
    """The client's header lines as they go to the backend, bytes as received (no decoding and re-encoding):
    hop-by-hop fields dropped, and the client's Authorization where the backend gets the gateway's key instead;
    X-Forwarded-For extended with the client's address."""
    drop = _FORWARD_DROP_AUTHORIZATION if drop_authorization else _FORWARD_DROP
    lines = [b"%s: %s\r\n" % (name, value) for name, value in request.raw_headers if name.lower() not in drop]
    prior = request.header(b"x-forwarded-for")
    forwarded = f"{prior}, {request.remote}" if prior and request.remote else prior or request.remote
    if forwarded:
        lines.append(f"X-Forwarded-For: {forwarded}\r\n".encode("utf-8", "surrogateescape"))
    return b"".join(lines)


def response_headers(upstream: Any, backend: str) -> list[tuple[str, str]]:
    """The backend's header fields as they go to the client: hop-by-hop and framing ones dropped (the gateway frames
    the body itself), the gateway's backend header added."""
    headers = [(k, v) for k, v in upstream.items() if k.lower() not in _RESPONSE_DROP]
    headers.append((BACKEND_HEADER, backend))
    return headers


def tokens_in(last: bytes, previous: bytes = b"") -> int | None:
    """Output tokens from the end of a response (its last piece, and the one before in case the count was split
    between them): Ollama's eval_count or OpenAI's usage.completion_tokens, the last one sent."""
    tail = last[-_TAIL_BYTES:]
    if len(tail) < _TAIL_BYTES and previous:
        tail = previous[-(_TAIL_BYTES - len(tail)) :] + tail
    at = max(tail.rfind(b'"eval_count"'), tail.rfind(b'"completion_tokens"'))
    if at < 0:
        return None
    found = _TOKENS.match(tail, at)
    if found:
        return int(found.group(1))
    every = _TOKENS.findall(tail)  # the last key holds no number (null): an earlier count, if any
    return int(every[-1]) if every else None


def with_model(body: bytes, parsed: dict[str, Any] | None, model: str | None) -> bytes:
    """The body with its model replaced, re-encoded only when the name really changes."""
    if parsed is None or model is None or parsed.get("model") == model:
        return body
    return orjson.dumps({**parsed, "model": model})


async def pass_through(request: Request, ex: Exchange, upstream: Upstream, body: bytes | None) -> Reply | Stream:
    try:
        async with upstream.request(
            request.method,
            request.path_qs,
            headers=forward_head(request, drop_authorization=upstream.replaces_authorization),
            body=body,
        ) as up:
            ex.status = up.status
            if up.status >= 400:
                ex.error_kind = f"http_{up.status}"
            headers = response_headers(up.headers, ex.backend)
            length = up.content_length if "Transfer-Encoding" not in up.headers else None
            response = Stream(request, status=up.status, reason=up.reason, headers=headers, content_length=length)
            first = up.read_nowait()
            if not first and not up.complete:
                response.send_head()  # the head goes with the first bytes only when they are already here
            ex.streamed = up.content_type in _STREAM_TYPES
            await _relay(response, ex, upstream, up, first)
            return response
    except UpstreamError as exc:
        ex.status, ex.error_kind = exc.status, exc.kind
        return error_response(ex.api, exc.status, str(exc), ex.backend)


async def _relay(response: Stream, ex: Exchange, upstream: Upstream, up: Any, first: bytes) -> None:
    """Each piece from the backend written before the next is read; the piece that ends the answer goes out in
    one write with the end of the response (and with the head, when it all came at once)."""
    previous = last = b""
    try:
        chunk = first or await upstream.read_chunk(up)
        if chunk:
            ex.mark_first_byte()
        while chunk:
            previous, last = last, chunk
            if up.complete:
                break
            await response.write(chunk)
            # What arrived meanwhile is taken at once; only an empty buffer means waiting for the backend.
            chunk = up.read_nowait() or await upstream.read_chunk(up)
    except UpstreamError as exc:
        # Headers are gone already: the error travels inside the stream, as the backend itself would send it.
        ex.error_kind = exc.kind
        if ex.streamed:
            sse = up.content_type == "text/event-stream"
            await write_quietly(response, stream_error_chunk(ex.api, str(exc), sse=sse))
        response.force_close()
        return
    except ConnectionError:
        ex.error_kind, ex.status = "client_gone", 499
        return
    ex.output_tokens = tokens_in(last, previous)
    await _quietly_write_eof(response, ex, chunk)


async def write_quietly(response: Stream, data: bytes) -> None:
    """A last write to a client that may have left already (an error line after a broken stream)."""
    try:
        await response.write(data)
    except ConnectionError:
        pass


async def _quietly_write_eof(response: Stream, ex: Exchange, data: bytes = b"") -> None:
    try:
        await response.write_eof(data)
    except ConnectionError:
        ex.error_kind, ex.status = "client_gone", 499
