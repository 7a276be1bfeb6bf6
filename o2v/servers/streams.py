"""Streamed responses: NDJSON (Ollama native) and SSE (OpenAI-compatible), sync and async, with timing.

Why a stream object instead of a bare generator: the caller needs more than the chunks -- the timing of
every chunk, the token counts the server reports at the end, and a clear error when the stream breaks
before its end marker (Ollama's ``done: true`` line, the SSE ``data: [DONE]``). A stream that just stops
is a failure, never a short success.

    with client.stream_chat(model, messages) as stream:
        for chunk in stream: ...
    stream.result  # StreamResult(text, finish_reason, prompt_tokens, completion_tokens, timing)
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, Protocol, TypeVar

import httpx
from pydantic import BaseModel, Field

from o2v.errors import ServerStreamError, StreamInterrupted
from o2v.servers._http import error_code, http_error, message_from_json, parse_model, transport_error
from o2v.servers.timing import StreamTiming, TimingRecorder

C = TypeVar("C", bound=BaseModel)
C_contra = TypeVar("C_contra", bound=BaseModel, contravariant=True)


class StreamResult(BaseModel):
    """Everything a finished stream told us."""

    text: str = Field(default="", description="All generated text, concatenated.")
    finish_reason: str | None = Field(default=None, description="stop, length, ... (Ollama: done_reason).")
    prompt_tokens: int | None = Field(default=None, description="From usage / prompt_eval_count; None if not sent.")
    completion_tokens: int | None = Field(default=None, description="From usage / eval_count; None if not sent.")
    chunks: int = Field(default=0, description="Chunks that carried text.")
    timing: StreamTiming


class ChunkReader(Protocol[C_contra]):
    """How one wire protocol reads its chunks: the text in a chunk, and what a chunk adds to the result."""

    def text(self, chunk: C_contra) -> str: ...

    def absorb(self, result: StreamResult, chunk: C_contra) -> None: ...


class Decoder(ABC, Generic[C]):
    """Turns lines into typed chunks; knows the end marker and the in-stream error shape."""

    def __init__(self, model: type[C], url: str) -> None:
        self.model = model
        self.url = url
        self.done = False

    def _object(self, data: Any) -> C:
        if isinstance(data, dict):
            message = message_from_json(data)
            if message is not None:
                raise ServerStreamError(error_code(data, 500), message, url=self.url)
        return parse_model(self.model, data, self.url)

    def _loads(self, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise StreamInterrupted(
                f"the stream from {self.url} carried a line that is not JSON: {text[:120]!r}", url=self.url
            ) from exc

    @abstractmethod
    def feed(self, line: str) -> list[C]:
        """The chunks one line of the body completes: each wire format reads its own."""

    def flush(self) -> list[C]:
        return []


class NDJSONDecoder(Decoder[C]):
    """One JSON object per line; the object with ``done: true`` is the last."""

    def feed(self, line: str) -> list[C]:
        if not line.strip():
            return []
        data = self._loads(line)
        chunk = self._object(data)
        if isinstance(data, dict) and data.get("done") is True:
            self.done = True
        return [chunk]


class SSEDecoder(Decoder[C]):
    """Server-sent events: ``data:`` lines up to a blank line form one event; ``data: [DONE]`` ends it."""

    def __init__(self, model: type[C], url: str) -> None:
        super().__init__(model, url)
        self._data: list[str] = []

    def feed(self, line: str) -> list[C]:
        if line.strip() == "":
            return self.flush()
        if line.startswith(":"):
            return []  # comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return []

    def flush(self) -> list[C]:
        if not self._data:
            return []
        payload, self._data = "\n".join(self._data), []
        if payload.strip() == "[DONE]":
            self.done = True
            return []
        return [self._object(self._loads(payload))]


class _StreamBase(Generic[C]):
    def __init__(
        self,
        request: httpx.Request,
        decoder: Decoder[C],
        protocol: ChunkReader[C],
        timeout_s: float,
        recorder: TimingRecorder | None = None,
    ) -> None:
        self._request = request
        self._decoder = decoder
        self._protocol = protocol
        self._timeout_s = timeout_s
        self._recorder = recorder or TimingRecorder()
        self._parts: list[str] = []
        self._response: httpx.Response | None = None
        self.result = StreamResult(timing=self._recorder.timing)
        self.url = str(request.url)

    @property
    def timing(self) -> StreamTiming:
        return self._recorder.timing

    def _take(self, chunks: list[C]) -> list[C]:
        for chunk in chunks:
            text = self._protocol.text(chunk)
            self._recorder.event(bool(text))
            if text:
                self._parts.append(text)
                self.result.chunks += 1
            self._protocol.absorb(self.result, chunk)
        return chunks

    def _line(self, line: str) -> list[C]:
        try:
            return self._take(self._decoder.feed(line))
        except (ServerStreamError, StreamInterrupted):
            self._recorder.finish()
            raise

    def _end(self) -> None:
        self._take(self._decoder.flush())
        self._recorder.finish()
        self.result.text = "".join(self._parts)
        self.result.timing = self._recorder.timing
        if not self._decoder.done:
            raise StreamInterrupted(
                f"the stream from {self.url} ended after {self.result.chunks} text chunk(s) without its end "
                "marker; the server dropped the connection mid-response -- check its logs",
                url=self.url,
            )

    def _mapped(self, exc: httpx.HTTPError) -> Exception:
        self._recorder.finish()
        return transport_error(exc, self.url, self._timeout_s, streaming=self._response is not None)


class SyncStream(_StreamBase[C]):
    """A streamed response read with a blocking ``httpx.Client``; use it as a context manager."""

    def __init__(self, http: httpx.Client, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = http

    def __enter__(self) -> SyncStream[C]:
        self._recorder.restart()
        try:
            self._response = self._http.send(self._request, stream=True)
        except httpx.HTTPError as exc:
            raise self._mapped(exc) from exc
        self._recorder.first_byte()
        if self._response.status_code >= 400:
            self._response.read()
            self._response.close()
            self._recorder.finish()
            raise http_error(self._response)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._response is not None:
            self._response.close()

    def __iter__(self) -> Iterator[C]:
        if self._response is None:
            raise RuntimeError("use the stream as a context manager: `with client.stream_...(...) as s:`")
        try:
            for line in self._response.iter_lines():
                yield from self._line(line)
                if self._decoder.done:
                    break
        except httpx.HTTPError as exc:
            raise self._mapped(exc) from exc
        self._end()

    def collect(self) -> StreamResult:
        """Read the rest of the stream and return the result."""
        for _ in self:
            pass
        return self.result


class AsyncStream(_StreamBase[C]):
    """A streamed response read with ``httpx.AsyncClient``; ``async with`` / ``async for``."""

    def __init__(self, http: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = http

    async def __aenter__(self) -> AsyncStream[C]:
        self._recorder.restart()
        try:
            self._response = await self._http.send(self._request, stream=True)
        except httpx.HTTPError as exc:
            raise self._mapped(exc) from exc
        self._recorder.first_byte()
        if self._response.status_code >= 400:
            await self._response.aread()
            await self._response.aclose()
            self._recorder.finish()
            raise http_error(self._response)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            await self._response.aclose()

    async def __aiter__(self) -> AsyncIterator[C]:
        if self._response is None:
            raise RuntimeError("use the stream as a context manager: `async with client.stream_...(...) as s:`")
        try:
            async for line in self._response.aiter_lines():
                for chunk in self._line(line):
                    yield chunk
                if self._decoder.done:
                    break
        except httpx.HTTPError as exc:
            raise self._mapped(exc) from exc
        self._end()

    async def collect(self) -> StreamResult:
        async for _ in self:
            pass
        return self.result
