"""Client for vLLM and any OpenAI-compatible server (Ollama's /v1, llama.cpp's server).

``OpenAIClient`` blocks; ``AsyncOpenAIClient`` is the same surface for asyncio callers (the load generator,
the gateway). Both normalise the base URL once (a trailing ``/`` or ``/v1`` is dropped) and send
``Authorization: Bearer <api_key>`` when a key is given, because vLLM's ``--api-key`` guards ``/v1/*``.

    client = OpenAIClient("http://gpu-host:8000/v1", api_key="...")
    client.models()[0].max_model_len
    with client.stream_chat("m", [{"role": "user", "content": "hi"}], max_tokens=32) as s:
        result = s.collect()          # text, finish_reason, tokens, timing.ttft_ms
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from o2v.errors import ServerError
from o2v.servers._http import AsyncHTTP, Call, SyncHTTP, json_call
from o2v.servers.metrics import VLLMMetrics, parse_vllm_metrics
from o2v.servers.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatReader,
    Completion,
    CompletionReader,
    EmbeddingList,
    ModelCard,
    ModelList,
    TokenizeResult,
    VersionInfo,
    chat_body,
)
from o2v.servers.streams import AsyncStream, SSEDecoder, SyncStream

Messages = list[dict[str, Any]]


def _auth(api_key: str | SecretStr | None) -> dict[str, str]:
    if api_key is None:
        return {}
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    return {"Authorization": f"Bearer {key}"} if key else {}


def _ok(response: httpx.Response) -> None:
    return None


def _text(response: httpx.Response) -> str:
    return response.text


class _Calls:
    """The requests, independent of sync or async sending."""

    health: Call[None] = Call("GET", "/health", _ok)
    version = json_call("GET", "/version", VersionInfo)
    models = json_call("GET", "/v1/models", ModelList)
    metrics: Call[str] = Call("GET", "/metrics", _text)

    @staticmethod
    def chat(model: str, messages: Messages, **kw: Any) -> Call[ChatCompletion]:
        return json_call("POST", "/v1/chat/completions", ChatCompletion, chat_body(model, messages, stream=False, **kw))

    @staticmethod
    def complete(model: str, prompt: str, **kw: Any) -> Call[Completion]:
        body = chat_body(model, [], prompt=prompt, stream=False, **kw)
        return json_call("POST", "/v1/completions", Completion, body)

    @staticmethod
    def embeddings(model: str, texts: str | list[str]) -> Call[EmbeddingList]:
        return json_call("POST", "/v1/embeddings", EmbeddingList, {"model": model, "input": texts})

    @staticmethod
    def tokenize(model: str, prompt: str | None, messages: Messages | None) -> Call[TokenizeResult]:
        body: dict[str, Any] = {"model": model}
        if messages is not None:
            body["messages"] = messages
        else:
            body["prompt"] = prompt or ""
        return json_call("POST", "/tokenize", TokenizeResult, body)


def _stream_args(
    model: str, messages: Messages | None, prompt: str | None, kw: dict[str, Any]
) -> tuple[str, dict[str, Any], Any, Any]:
    if prompt is not None:
        body = chat_body(model, [], prompt=prompt, stream=True, **kw)
        return "/v1/completions", body, Completion, CompletionReader()
    return (
        "/v1/chat/completions",
        chat_body(model, messages or [], stream=True, **kw),
        ChatCompletionChunk,
        ChatReader(),
    )


class OpenAIClient(SyncHTTP):
    """Blocking client. ``transport`` accepts an ``httpx.MockTransport`` for tests."""

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr | None = None,
        timeout_s: float = 30.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout_s=timeout_s, headers=_auth(api_key), transport=transport)

    def health(self) -> None:
        """Raise unless ``/health`` answers 200 (vLLM answers only once the model is loaded)."""
        self._run(_Calls.health)

    def is_healthy(self) -> bool:
        try:
            self.health()
        except ServerError:
            return False
        return True

    def version(self) -> str:
        return self._run(_Calls.version).version

    def models(self) -> list[ModelCard]:
        return self._run(_Calls.models).data

    def model(self, model_id: str) -> ModelCard:
        """The card of one served model; ServerError naming the served ones when it is not there."""
        return _pick(self.models(), model_id, self.base_url)

    def chat(self, model: str, messages: Messages, **kw: Any) -> ChatCompletion:
        """Non-streaming chat; ``kw``: max_tokens, temperature, seed, extra (more body fields)."""
        return self._run(_Calls.chat(model, messages, **kw))

    def complete(self, model: str, prompt: str, **kw: Any) -> Completion:
        return self._run(_Calls.complete(model, prompt, **kw))

    def stream_chat(self, model: str, messages: Messages, **kw: Any) -> SyncStream[ChatCompletionChunk]:
        """Streaming chat with ``stream_options.include_usage`` (``include_usage=False`` to leave it out)."""
        return self._stream(model, messages, None, kw)

    def stream_complete(self, model: str, prompt: str, **kw: Any) -> SyncStream[Completion]:
        return self._stream(model, None, prompt, kw)

    def _stream(self, model: str, messages: Messages | None, prompt: str | None, kw: dict[str, Any]) -> Any:
        path, body, chunk_type, reader = _stream_args(model, messages, prompt, kw)
        request = self._http.build_request("POST", path, json=body)
        return SyncStream(self._http, request, SSEDecoder(chunk_type, str(request.url)), reader, self.timeout_s)

    def embeddings(self, model: str, texts: str | list[str]) -> EmbeddingList:
        return self._run(_Calls.embeddings(model, texts))

    def tokenize(self, model: str, prompt: str | None = None, *, messages: Messages | None = None) -> TokenizeResult:
        return self._run(_Calls.tokenize(model, prompt, messages))

    def metrics_text(self) -> str:
        return self._run(_Calls.metrics)

    def metrics(self, model_name: str | None = None) -> VLLMMetrics:
        return parse_vllm_metrics(self.metrics_text(), model_name)


class AsyncOpenAIClient(AsyncHTTP):
    """The asyncio twin of :class:`OpenAIClient` (same methods, awaited; streams with ``async with``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr | None = None,
        timeout_s: float = 30.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 1000,
    ) -> None:
        super().__init__(
            base_url,
            timeout_s=timeout_s,
            headers=_auth(api_key),
            transport=transport,
            max_connections=max_connections,
        )

    async def health(self) -> None:
        await self._run(_Calls.health)

    async def is_healthy(self) -> bool:
        try:
            await self.health()
        except ServerError:
            return False
        return True

    async def version(self) -> str:
        return (await self._run(_Calls.version)).version

    async def models(self) -> list[ModelCard]:
        return (await self._run(_Calls.models)).data

    async def model(self, model_id: str) -> ModelCard:
        return _pick(await self.models(), model_id, self.base_url)

    async def chat(self, model: str, messages: Messages, **kw: Any) -> ChatCompletion:
        return await self._run(_Calls.chat(model, messages, **kw))

    async def complete(self, model: str, prompt: str, **kw: Any) -> Completion:
        return await self._run(_Calls.complete(model, prompt, **kw))

    def stream_chat(self, model: str, messages: Messages, **kw: Any) -> AsyncStream[ChatCompletionChunk]:
        return self._stream(model, messages, None, kw)

    def stream_complete(self, model: str, prompt: str, **kw: Any) -> AsyncStream[Completion]:
        return self._stream(model, None, prompt, kw)

    def _stream(self, model: str, messages: Messages | None, prompt: str | None, kw: dict[str, Any]) -> Any:
        path, body, chunk_type, reader = _stream_args(model, messages, prompt, kw)
        request = self._http.build_request("POST", path, json=body)
        return AsyncStream(self._http, request, SSEDecoder(chunk_type, str(request.url)), reader, self.timeout_s)

    async def embeddings(self, model: str, texts: str | list[str]) -> EmbeddingList:
        return await self._run(_Calls.embeddings(model, texts))

    async def tokenize(
        self, model: str, prompt: str | None = None, *, messages: Messages | None = None
    ) -> TokenizeResult:
        return await self._run(_Calls.tokenize(model, prompt, messages))

    async def metrics_text(self) -> str:
        return await self._run(_Calls.metrics)

    async def metrics(self, model_name: str | None = None) -> VLLMMetrics:
        return parse_vllm_metrics(await self.metrics_text(), model_name)


def _pick(cards: list[ModelCard], model_id: str, url: str) -> ModelCard:
    for card in cards:
        if card.id == model_id:
            return card
    served = ", ".join(card.id for card in cards) or "none"
    raise ServerError(
        f"{url} does not serve {model_id!r} (it serves: {served}); use one of those names or "
        "start the server with --served-model-name",
        url=url,
    )
