"""vLLM's HTTP edge: the API-key check and uvicorn's access log, as one aiohttp middleware."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from aiohttp import web

from o2v.simulate.common import json_response


def _key_checker(keys: list[str]) -> Callable[[str | None], bool]:
    """vLLM's bearer check: any capitalisation of the scheme, any of the keys, compared in constant time."""
    digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def accepted(header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        digest = hashlib.sha256(token.encode()).digest()
        ok = False
        for expected in digests:  # every key is compared, so timing does not tell which one nearly matched
            ok |= hmac.compare_digest(digest, expected)
        return ok

    return accepted


def auth_and_access_log(keys: list[str]) -> Any:
    """``--api-key`` on ``/v1``, ``/v2`` and ``/inference`` (401 ``{"error":"Unauthorized"}``), FastAPI's 404/405
    bodies, and uvicorn's access line on stdout for every request but the simulator's own and the probes."""
    accepted = _key_checker(keys)

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if (
            keys
            and request.method != "OPTIONS"
            and path.startswith(("/v1", "/v2", "/inference"))
            and not accepted(request.headers.get("Authorization"))
        ):
            resp: web.StreamResponse = json_response({"error": "Unauthorized"}, 401)
        else:
            try:
                resp = await handler(request)
            except web.HTTPNotFound:
                resp = json_response({"detail": "Not Found"}, 404)
            except web.HTTPMethodNotAllowed:
                resp = json_response({"detail": "Method Not Allowed"}, 405)
        if not path.startswith("/_sim/") and path not in ("/metrics", "/health"):
            peer = request.transport.get_extra_info("peername") if request.transport else None
            addr = f"{peer[0]}:{peer[1]}" if peer else "127.0.0.1:0"
            reason = getattr(resp, "reason", "") or ""
            print(
                f'INFO:     {addr} - "{request.method} {request.path_qs} HTTP/1.1" {resp.status} {reason}',
                flush=True,
            )
        return resp

    return middleware
