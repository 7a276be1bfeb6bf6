"""The two backends as the gateway reaches them: one keep-alive aiohttp session each, with explicit timeouts.

Three waits are bounded separately: connecting, the response headers (a model load can take minutes), and
the silence between two chunks of a response. Each failure becomes an ``UpstreamError`` whose status and
message the proxy turns into the client API's error shape, naming the backend and what it did.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from o2v.errors import ServerError
from o2v.store_schema import Backend

NAMES = {"ollama": "Ollama", "vllm": "vLLM"}


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
        self._session: aiohttp.ClientSession | None = None

    @property
    def name(self) -> str:
        return NAMES[self.backend]

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=60, keepalive_timeout=30)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout_s)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def auth_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The headers sent on: for vLLM the client's Authorization is replaced by vLLM's own key (or dropped)."""
        if self.backend != "vllm":
            return dict(headers)
        out = {k: v for k, v in headers.items() if k.lower() != "authorization"}  # in any spelling
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        return out

    @asynccontextmanager
    async def request(
        self, method: str, path: str, *, headers: Mapping[str, str], body: bytes | None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        assert self._session is not None, "Upstream.start() first"
        url = self.url + path
        try:
            async with asyncio.timeout(self.response_timeout_s):
                response = await self._session.request(
                    method, url, headers=self.auth_headers(headers), data=body, allow_redirects=False
                )
        except TimeoutError:
            raise UpstreamError(
                504, "timeout",
                f"{self.name} at {self.url} did not answer {method} {path} within {self.response_timeout_s:g}s",
                url=self.url,
            ) from None  # fmt: skip
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError(
                502, "connect", f"{self.name} at {self.url} is not reachable: {exc.os_error or exc}", url=self.url
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(
                502, "disconnect", f"{self.name} at {self.url} closed the connection: {exc}", url=self.url
            ) from exc
        try:
            yield response
        finally:
            response.release()

    async def read_chunk(self, response: aiohttp.ClientResponse) -> bytes:
        """The next bytes of the body as soon as they arrive (b"" at its end), within the idle timeout."""
        try:
            async with asyncio.timeout(self.idle_timeout_s):
                return await response.content.readany()
        except TimeoutError:
            raise UpstreamError(
                504, "stall", f"{self.name} at {self.url} sent nothing for {self.idle_timeout_s:g}s mid-response",
                url=self.url,
            ) from None  # fmt: skip
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(
                502, "disconnect", f"{self.name} at {self.url} broke off the response: {exc}", url=self.url
            ) from exc

    async def read_all(self, response: aiohttp.ClientResponse) -> bytes:
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
