"""The HTTP plumbing both clients share: error mapping, one request helper, typed parsing.

Why in one place: Ollama and vLLM disagree on error shapes (``{"error": "..."}``, ``{"error": {...}}`` and the
pre-Aug-2025 flat ``{"object": "error", ...}``), and every caller -- deploy health checks, the probe,
the load generator -- must see the same o2v error types with the server's own words kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from o2v.config import normalise_url
from o2v.errors import ServerError, ServerHTTPError, ServerTimeout, ServerUnreachable, StreamInterrupted

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_MAX_BODY_CHARS = 500


def server_message(body: bytes | str) -> str:
    """The server's own error text from any of the known error shapes, else the (shortened) raw body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:_MAX_BODY_CHARS] or "(empty body)"
    return message_from_json(data) or text.strip()[:_MAX_BODY_CHARS]


def message_from_json(data: Any) -> str | None:
    """Message of an error object: Ollama/vLLM-auth string, OpenAI nested object, old vLLM flat object."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and error.get("message") is not None:
        return str(error["message"])
    if data.get("object") == "error" and data.get("message") is not None:
        return str(data["message"])
    if "detail" in data:  # FastAPI-style validation answer from other OpenAI-compatible servers
        return json.dumps(data["detail"]) if not isinstance(data["detail"], str) else data["detail"]
    return None


def error_code(data: dict[str, Any], default: int) -> int:
    """HTTP-like status carried inside an error object (vLLM puts it in ``code``), else ``default``."""
    error = data.get("error")
    code = error.get("code") if isinstance(error, dict) else data.get("code")
    if isinstance(code, int) and 100 <= code <= 599:
        return code
    if isinstance(code, str) and code.isdigit() and 100 <= int(code) <= 599:
        return int(code)
    return default


def http_error(response: httpx.Response) -> ServerHTTPError:
    return ServerHTTPError(response.status_code, server_message(response.content), url=str(response.request.url))


def transport_error(exc: httpx.HTTPError, url: str, timeout_s: float, *, streaming: bool = False) -> ServerError:
    """Map an httpx failure to the o2v type that tells the user what to do."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | httpx.UnsupportedProtocol):
        return ServerUnreachable(
            f"nothing answers at {url} ({type(exc).__name__}: {exc}); expected a running server there -- "
            "check the URL, the port and that the server is started",
            url=url,
        )
    if isinstance(exc, httpx.TimeoutException):
        what = "the next stream chunk" if streaming else "an answer"
        return ServerTimeout(
            f"{url} accepted the connection but sent no {what} within {timeout_s:g} s; "
            "the server is overloaded or stuck -- raise timeout_s or check its load",
            url=url,
        )
    if streaming:
        return StreamInterrupted(
            f"the stream from {url} broke before its end marker ({type(exc).__name__}: {exc}); "
            "the server closed the connection mid-response -- check its logs",
            url=url,
        )
    return ServerError(f"request to {url} failed ({type(exc).__name__}: {exc}); check the server's logs", url=url)


def parse_model(model: type[M], data: Any, url: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ServerError(
            f"{url} answered with a body that is not a {model.__name__}: {exc.error_count()} problem(s), "
            f"first: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}; is this the right kind of server?",
            url=url,
        ) from exc


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        url = str(response.request.url)
        raise ServerError(
            f"{url} answered {response.status_code} with non-JSON text {response.text[:120]!r}; "
            "expected JSON -- is this the right kind of server?",
            url=url,
        ) from exc


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its successful answer; run by the sync or the async client alike."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None


def json_call(method: str, path: str, model: type[M], body: Any = None) -> Call[M]:
    return Call(method, path, lambda r: parse_model(model, response_json(r), str(r.request.url)), body)


class SyncHTTP:
    """Owns one ``httpx.Client``; ``transport`` lets unit tests plug an ``httpx.MockTransport``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = normalise_url(base_url)
        self.timeout_s = timeout_s
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout_s, headers=dict(headers or {}), transport=transport
        )

    def _run(self, call: Call[T]) -> T:
        request = self._http.build_request(call.method, call.path, json=call.json)
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise transport_error(exc, str(request.url), self.timeout_s) from exc
        if response.status_code >= 400:
            raise http_error(response)
        return call.parse(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncHTTP:
    """Owns one ``httpx.AsyncClient``; the async twin of :class:`SyncHTTP`."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 1000,
    ) -> None:
        self.base_url = normalise_url(base_url)
        self.timeout_s = timeout_s
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout_s,
            headers=dict(headers or {}),
            transport=transport,
            limits=limits,
        )

    async def _run(self, call: Call[T]) -> T:
        request = self._http.build_request(call.method, call.path, json=call.json)
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            raise transport_error(exc, str(request.url), self.timeout_s) from exc
        if response.status_code >= 400:
            raise http_error(response)
        return call.parse(response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self: Any) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
