"""The two backends as the gateway reaches them: a pool of keep-alive connections each (o2v.gateway.lean_http), with
explicit timeouts.

Three waits are bounded separately: connecting, the response headers (a model load can take minutes), and
the silence between two chunks of a response. Each failure becomes an ``UpstreamError`` whose status and
message the proxy turns into the client API's error shape, naming the backend and what it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from o2v.errors import ServerError
from o2v.gateway.lean_http import Broken, Connection, LeanResponse, Pool, encode_request, split_url
from o2v.store_schema import Backend

NAMES = {"ollama": "Ollama", "vllm": "vLLM"}


class _Exchange:
    """One request on a pooled connection, as an async context manager (a class: cheaper per request than a
    generator-based one)."""

    __slots__ = ("_upstream", "_wire", "_method", "_path", "_conn")

    def __init__(
        self, upstream: Upstream, method: str, path: str, headers: Mapping[str, str] | bytes, body: bytes | None
    ) -> None:
        self._upstream = upstream
        self._wire = upstream.wire(method, path, headers, body)
        self._method, self._path = method, path
        self._conn: Connection | None = None

    async def __aenter__(self) -> LeanResponse:
        self._conn, response = await self._upstream.send(self._wire, self._method, self._path)
        return response

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._upstream.release(self._conn)


class UpstreamError(ServerError):
    """A backend could not be reached, did not answer in time, or broke off a response."""

    def __init__(self, status: int, kind: str, message: str, *, url: str | None = None) -> None:
        self.status = status
        self.kind = kind
        super().__init__(message, url=url)


class Upstream:
    def __init__(
        self,
        backend: Backend,
        url: str,
        *,
        api_key: str | None = None,
        connect_timeout_s: float = 5.0,
        response_timeout_s: float = 600.0,
        idle_timeout_s: float = 300.0,
    ) -> None:
        self.backend = backend
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.connect_timeout_s = connect_timeout_s
        self.response_timeout_s = response_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self._pool: Pool | None = None
        self._host_header = ""
        # vLLM gets the gateway's key instead of whatever the client sent.
        self.replaces_authorization = backend == "vllm"
        self._auth_line = (
            f"Authorization: Bearer {api_key}\r\n".encode("latin-1") if api_key and backend == "vllm" else b""
        )

    @property
    def name(self) -> str:
        return NAMES[self.backend]

    async def start(self) -> None:
        host, port, self._host_header, tls = split_url(self.url)
        self._pool = Pool(host, port, tls=tls)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def auth_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The headers sent on: for vLLM the client's Authorization is replaced by vLLM's own key (or dropped)."""
        if self.backend != "vllm":
            return dict(headers)
        out = {k: v for k, v in headers.items() if k.lower() != "authorization"}  # in any spelling
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        return out

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | bytes, body: bytes | None) -> _Exchange:
        """``async with upstream.request(...) as response``: the response head is in; the connection goes back
        to the pool (or is closed) when the block ends."""
        assert self._pool is not None, "Upstream.start() first"
        return _Exchange(self, method, path, headers, body)

    def wire(self, method: str, path: str, headers: Mapping[str, str] | bytes, body: bytes | None) -> bytes:
        """The request's bytes. ``headers`` as encoded lines (the proxy's, without the client's Authorization
        where ``replaces_authorization``) or as a mapping, filtered here."""
        if isinstance(headers, bytes):
            return encode_request(method, path, self._host_header, headers + self._auth_line, body)
        return encode_request(method, path, self._host_header, self.auth_headers(headers), body)

    async def send(self, wire: bytes, method: str, path: str) -> tuple[Connection, LeanResponse]:
        pool = self._pool
        assert pool is not None, "Upstream.start() first"
        for attempt in (1, 2):
            conn = await self._connect(pool, fresh=attempt == 2)
            reused = conn.served > 0
            response = conn.send(wire, method == "HEAD")
            try:
                await conn.head(self.response_timeout_s)
                return conn, response
            except TimeoutError:
                conn.close()
                raise UpstreamError(
                    504, "timeout",
                    f"{self.name} at {self.url} did not answer {method} {path} within {self.response_timeout_s:g}s",
                    url=self.url,
                ) from None  # fmt: skip
            except Broken as exc:
                conn.close()
                if exc.before_head and reused and attempt == 1:
                    continue  # a kept-alive connection the server had closed meanwhile: once more on a new one
                raise UpstreamError(
                    502, "disconnect", f"{self.name} at {self.url} {exc} before answering", url=self.url
                ) from exc
        raise AssertionError("unreachable")

    def release(self, conn: Connection) -> None:
        if self._pool is not None:
            self._pool.release(conn)
        else:
            conn.close()

    async def _connect(self, pool: Pool, *, fresh: bool) -> Connection:
        try:
            return await pool.acquire(self.connect_timeout_s, fresh=fresh)
        except TimeoutError:
            raise UpstreamError(
                502, "connect",
                f"{self.name} at {self.url} did not accept a connection within {self.connect_timeout_s:g}s",
                url=self.url,
            ) from None  # fmt: skip
        except OSError as exc:
            raise UpstreamError(
                502, "connect", f"{self.name} at {self.url} is not reachable: {exc}", url=self.url
            ) from exc

    async def read_chunk(self, response: LeanResponse) -> bytes:
        """The next bytes of the body as soon as they arrive (b"" at its end), within the idle timeout."""
        try:
            return await response.read(self.idle_timeout_s)
        except TimeoutError:
            raise UpstreamError(
                504, "stall", f"{self.name} at {self.url} sent nothing for {self.idle_timeout_s:g}s mid-response",
                url=self.url,
            ) from None  # fmt: skip
        except Broken as exc:
            raise UpstreamError(
                502, "disconnect", f"{self.name} at {self.url} broke off the response: it {exc}", url=self.url
            ) from exc

    async def read_all(self, response: LeanResponse) -> bytes:
        parts = []
        while chunk := await self.read_chunk(response):
            parts.append(chunk)
        return b"".join(parts)

    async def get_json(self, path: str) -> Any:
        """A small JSON GET (e.g. /v1/models), raising UpstreamError on any failure or error status."""
        async with self.request("GET", path, headers={}, body=None) as response:
            body = await self.read_all(response)
            if response.status != 200:
                raise UpstreamError(
                    502, f"http_{response.status}",
                    f"{self.name} answered {path} with HTTP {response.status}: {body[:200]!r}", url=self.url,
                )  # fmt: skip
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise UpstreamError(502, "bad_json", f"{self.name} sent invalid JSON on {path}", url=self.url) \
                    from exc  # fmt: skip
