"""Error replies in the shape the client's API expects: Ollama's ``{"error": "..."}`` or OpenAI's object.

The gateway's own errors (bad JSON, body too large, a backend down or silent) must look like the server the
client thinks it is talking to, so SDKs raise their usual exception with the gateway's reason in it.
"""

from __future__ import annotations

from typing import Literal

import orjson

from o2v.gateway.public_http import Reply
from o2v.gateway.translate import ollama_error, openai_error

Api = Literal["native", "openai"]
BACKEND_HEADER = "X-O2V-Backend"

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
}


def api_of(path: str) -> Api:
    return "openai" if path.startswith("/v1/") or path == "/v1" else "native"


def error_body(api: Api, status: int, message: str) -> bytes:
    if api == "native":
        return orjson.dumps(ollama_error(message))
    return orjson.dumps(openai_error(message, _OPENAI_TYPES.get(status, "api_error")))


def error_response(api: Api, status: int, message: str, backend: str | None = None) -> Reply:
    headers = ((BACKEND_HEADER, backend),) if backend else ()
    return Reply(error_body(api, status, message), status=status, headers=headers)


def stream_error_chunk(api: Api, message: str, *, sse: bool) -> bytes:
    """An error sent after a stream began: an NDJSON line (Ollama) or an SSE event (OpenAI)."""
    body = error_body(api, 502, message)
    return b"data: " + body + b"\n\n" if sse else body + b"\n"
