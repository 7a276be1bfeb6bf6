"""Pass-through: a request forwarded to its backend as it is, the response streamed back chunk by chunk.

Nothing is buffered: each read from the backend is written to the client before the next read, so the
gaps between chunks are the backend's own. Only the OpenAI model name may be rewritten (Ollama tag -> vLLM
served name) and, for vLLM, the client's Authorization replaced by vLLM's key.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from o2v.gateway.observe import Exchange
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


def forward_headers(request: web.BaseRequest) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _REQUEST_DROP}
    if request.remote:
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {request.remote}" if prior else request.remote
    return headers


def response_headers(upstream: CIMultiDict[str] | Any, backend: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in upstream.items() if k.lower() not in _RESPONSE_DROP
    )
    headers[BACKEND_HEADER] = backend
    return headers


def tokens_in(tail: bytes) -> int | None:
    """Output tokens from the end of a response: Ollama's eval_count or OpenAI's usage.completion_tokens."""
    found = _TOKENS.findall(tail)
    return int(found[-1]) if found else None


def with_model(body: bytes, parsed: dict[str, Any] | None, model: str | None) -> bytes:
    """The body with its model replaced, re-encoded only when the name really changes."""
    if parsed is None or model is None or parsed.get("model") == model:
        return body
    return orjson.dumps({**parsed, "model": model})


async def pass_through(
    request: web.BaseRequest, ex: Exchange, upstream: Upstream, body: bytes | None
) -> web.StreamResponse:
    try:
        async with upstream.request(
            request.method, request.path_qs, headers=forward_headers(request), body=body
        ) as up:
            ex.status = up.status
            if up.status >= 400:
                ex.error_kind = f"http_{up.status}"
            headers = response_headers(up.headers, ex.backend)
            response = web.StreamResponse(status=up.status, reason=up.reason, headers=headers)
            if up.content_length is not None and "Transfer-Encoding" not in up.headers:
                response.content_length = up.content_length
            ex.streamed = up.content_type in _STREAM_TYPES
            await response.prepare(request)
            await _relay(response, ex, upstream, up)
            return response
    except UpstreamError as exc:
        ex.status, ex.error_kind = exc.status, exc.kind
        return error_response(ex.api, exc.status, str(exc), ex.backend)


async def _relay(response: web.StreamResponse, ex: Exchange, upstream: Upstream, up: Any) -> None:
    previous = last = b""
    try:
        while chunk := await upstream.read_chunk(up):
            ex.mark_first_byte()
            await response.write(chunk)
            previous, last = last, chunk
    except UpstreamError as exc:
        # Headers are gone already: the error travels inside the stream, as the backend itself would send it.
        ex.error_kind = exc.kind
        if ex.streamed:
            sse = up.content_type == "text/event-stream"
            await _quietly_write(response, stream_error_chunk(ex.api, str(exc), sse=sse))
        response.force_close()
        return
    except ConnectionError:
        ex.error_kind, ex.status = "client_gone", 499
        return
    ex.output_tokens = tokens_in((previous + last)[-_TAIL_BYTES:])
    await _quietly_write_eof(response, ex)


async def _quietly_write(response: web.StreamResponse, data: bytes) -> None:
    try:
        await response.write(data)
    except ConnectionError:
        pass


async def _quietly_write_eof(response: web.StreamResponse, ex: Exchange) -> None:
    try:
        await response.write_eof()
    except ConnectionError:
        ex.error_kind, ex.status = "client_gone", 499
