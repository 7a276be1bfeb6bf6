"""Wire-level fakes: an httpx.MockTransport that records requests and answers with canned bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers by route ("METHOD /path") and keeps every request for assertions."""

    def __init__(self, routes: dict[str, Handler | httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.path}"
        answer = self.routes.get(key)
        if answer is None:
            return httpx.Response(404, text="404 page not found")
        return answer(request) if callable(answer) else answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def sse(events: Iterable[Any], done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(e) if not isinstance(e, str) else e}\n\n" for e in events]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def ndjson(objects: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objects).encode()


def chunked(data: bytes, size: int = 7) -> Iterator[bytes]:
    """Split a body into small pieces so line reassembly is exercised."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
