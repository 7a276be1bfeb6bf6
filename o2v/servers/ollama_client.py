"""Client for Ollama's native API (and a door to its OpenAI-compatible one).

``OllamaClient`` blocks; ``AsyncOllamaClient`` is the asyncio twin. Streams are NDJSON; a stream is only
complete when the ``done: true`` object arrived, and an ``{"error": ...}`` line inside a stream raises
:class:`o2v.errors.ServerStreamError` with Ollama's own message.

    ollama = OllamaClient("http://127.0.0.1:11434")
    [m.name for m in ollama.tags()]
    ollama.show("llama3.1:8b").context_length
    with ollama.stream_chat("llama3.1:8b", [{"role": "user", "content": "hi"}]) as s:
        s.collect().timing.ttft_ms
    ollama.openai().models()       # Ollama's /v1 endpoints through the OpenAI client
"""

from __future__ import annotations

from typing import Any

import httpx

from o2v.errors import ServerError
from o2v.servers._http import AsyncHTTP, Call, SyncHTTP, json_call
from o2v.servers.ollama_types import (
    ChatReader,
    ChatResponse,
    EmbedResponse,
    GenerateReader,
    GenerateResponse,
    LocalModel,
    RunningList,
    RunningModel,
    ShowResponse,
    TagList,
    VersionInfo,
    native_body,
)
from o2v.servers.openai_client import AsyncOpenAIClient, OpenAIClient
from o2v.servers.streams import AsyncStream, NDJSONDecoder, SyncStream

Messages = list[dict[str, Any]]
KeepAlive = str | int | float | None


def _running_text(response: httpx.Response) -> str:
    return response.text


class _Calls:
    root: Call[str] = Call("GET", "/", _running_text)
    version = json_call("GET", "/api/version", VersionInfo)
    tags = json_call("GET", "/api/tags", TagList)
    ps = json_call("GET", "/api/ps", RunningList)

    @staticmethod
    def show(model: str) -> Call[ShowResponse]:
        return json_call("POST", "/api/show", ShowResponse, {"model": model})

    @staticmethod
    def embed(model: str, texts: str | list[str]) -> Call[EmbedResponse]:
        return json_call("POST", "/api/embed", EmbedResponse, {"model": model, "input": texts})

    @staticmethod
    def generate(model: str, prompt: str, **kw: Any) -> Call[GenerateResponse]:
        return json_call(
            "POST", "/api/generate", GenerateResponse, native_body(model, prompt=prompt, stream=False, **kw)
        )

    @staticmethod
    def chat(model: str, messages: Messages, **kw: Any) -> Call[ChatResponse]:
        return json_call("POST", "/api/chat", ChatResponse, native_body(model, messages=messages, stream=False, **kw))

    @staticmethod
    def load(model: str, keep_alive: KeepAlive) -> Call[GenerateResponse]:
        return _Calls.generate(model, "", keep_alive=keep_alive)

    @staticmethod
    def unload(model: str) -> Call[GenerateResponse]:
        return _Calls.generate(model, "", keep_alive=0)


def _stream_args(model: str, prompt: str | None, messages: Messages | None, kw: dict[str, Any]) -> tuple[Any, ...]:
    if messages is not None:
        return (
            "/api/chat",
            native_body(model, messages=messages, stream=True, **kw),
            ChatResponse,
            ChatReader(),
        )
    return (
        "/api/generate",
        native_body(model, prompt=prompt, stream=True, **kw),
        GenerateResponse,
        GenerateReader(),
    )


def _check_running(text: str, url: str) -> None:
    if "Ollama is running" not in text:
        raise ServerError(
            f"{url} answered but not like Ollama (expected 'Ollama is running', got {text[:80]!r}); "
            "check the URL points at Ollama",
            url=url,
        )


class OllamaClient(SyncHTTP):
    """Blocking client for Ollama. ``kw`` of generate/chat: options, keep_alive, system, extra."""

    def __init__(self, base_url: str, timeout_s: float = 30.0, *, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, timeout_s=timeout_s, transport=transport)
        self._transport = transport

    def heartbeat(self) -> None:
        """Raise unless ``GET /`` says ``Ollama is running``."""
        _check_running(self._run(_Calls.root), self.base_url)

    def is_running(self) -> bool:
        try:
            self.heartbeat()
        except ServerError:
            return False
        return True

    def version(self) -> str:
        return self._run(_Calls.version).version

    def tags(self) -> list[LocalModel]:
        return self._run(_Calls.tags).models

    def show(self, model: str) -> ShowResponse:
        return self._run(_Calls.show(model))

    def ps(self) -> list[RunningModel]:
        return self._run(_Calls.ps).models

    def generate(self, model: str, prompt: str, **kw: Any) -> GenerateResponse:
        return self._run(_Calls.generate(model, prompt, **kw))

    def chat(self, model: str, messages: Messages, **kw: Any) -> ChatResponse:
        return self._run(_Calls.chat(model, messages, **kw))

    def stream_generate(self, model: str, prompt: str, **kw: Any) -> SyncStream[GenerateResponse]:
        return self._stream(model, prompt, None, kw)

    def stream_chat(self, model: str, messages: Messages, **kw: Any) -> SyncStream[ChatResponse]:
        return self._stream(model, None, messages, kw)

    def _stream(self, model: str, prompt: str | None, messages: Messages | None, kw: dict[str, Any]) -> Any:
        path, body, chunk_type, reader = _stream_args(model, prompt, messages, kw)
        request = self._http.build_request("POST", path, json=body)
        return SyncStream(self._http, request, NDJSONDecoder(chunk_type, str(request.url)), reader, self.timeout_s)

    def embed(self, model: str, texts: str | list[str]) -> EmbedResponse:
        return self._run(_Calls.embed(model, texts))

    def load(self, model: str, keep_alive: KeepAlive = None) -> GenerateResponse:
        """Load a model into memory (empty prompt); Ollama answers ``done_reason: "load"``."""
        return self._run(_Calls.load(model, keep_alive))

    def unload(self, model: str) -> GenerateResponse:
        """Unload a model now (``keep_alive: 0``); Ollama answers ``done_reason: "unload"``."""
        return self._run(_Calls.unload(model))

    def openai(self, api_key: str | None = None) -> OpenAIClient:
        """Ollama's OpenAI-compatible endpoints (/v1/models, /v1/chat/completions, /v1/completions)."""
        return OpenAIClient(self.base_url, api_key, self.timeout_s, transport=self._transport)


class AsyncOllamaClient(AsyncHTTP):
    """The asyncio twin of :class:`OllamaClient`."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 30.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 1000,
    ) -> None:
        super().__init__(base_url, timeout_s=timeout_s, transport=transport, max_connections=max_connections)
        self._transport = transport

    async def heartbeat(self) -> None:
        _check_running(await self._run(_Calls.root), self.base_url)

    async def is_running(self) -> bool:
        try:
            await self.heartbeat()
        except ServerError:
            return False
        return True

    async def version(self) -> str:
        return (await self._run(_Calls.version)).version

    async def tags(self) -> list[LocalModel]:
        return (await self._run(_Calls.tags)).models

    async def show(self, model: str) -> ShowResponse:
        return await self._run(_Calls.show(model))

    async def ps(self) -> list[RunningModel]:
        return (await self._run(_Calls.ps)).models

    async def generate(self, model: str, prompt: str, **kw: Any) -> GenerateResponse:
        return await self._run(_Calls.generate(model, prompt, **kw))

    async def chat(self, model: str, messages: Messages, **kw: Any) -> ChatResponse:
        return await self._run(_Calls.chat(model, messages, **kw))

    def stream_generate(self, model: str, prompt: str, **kw: Any) -> AsyncStream[GenerateResponse]:
        return self._stream(model, prompt, None, kw)

    def stream_chat(self, model: str, messages: Messages, **kw: Any) -> AsyncStream[ChatResponse]:
        return self._stream(model, None, messages, kw)

    def _stream(self, model: str, prompt: str | None, messages: Messages | None, kw: dict[str, Any]) -> Any:
        path, body, chunk_type, reader = _stream_args(model, prompt, messages, kw)
        request = self._http.build_request("POST", path, json=body)
        return AsyncStream(self._http, request, NDJSONDecoder(chunk_type, str(request.url)), reader, self.timeout_s)

    async def embed(self, model: str, texts: str | list[str]) -> EmbedResponse:
        return await self._run(_Calls.embed(model, texts))

    async def load(self, model: str, keep_alive: KeepAlive = None) -> GenerateResponse:
        return await self._run(_Calls.load(model, keep_alive))

    async def unload(self, model: str) -> GenerateResponse:
        return await self._run(_Calls.unload(model))

    def openai(self, api_key: str | None = None) -> AsyncOpenAIClient:
        return AsyncOpenAIClient(self.base_url, api_key, self.timeout_s, transport=self._transport)
