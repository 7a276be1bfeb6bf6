"""Typed answers of OpenAI-compatible servers (vLLM, Ollama's /v1, llama.cpp's server).

Models accept unknown fields (``extra="allow"``): servers add fields between versions and a client that
rejects them would break on every upgrade. Only the fields the project reads are declared.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from o2v.servers.streams import StreamResult


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ModelCard(Wire):
    id: str
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None
    root: str | None = None
    parent: str | None = None
    max_model_len: int | None = Field(default=None, description="Context length in tokens (vLLM only; None elsewhere).")


class ModelList(Wire):
    object: str = "list"
    data: list[ModelCard] = Field(default_factory=list)


class Usage(Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatMessage(Wire):
    role: str
    content: str | None = None


class ChatChoice(Wire):
    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(Wire):
    id: str = ""
    object: str = "chat.completion"
    created: int | None = None
    model: str = ""
    choices: list[ChatChoice] = Field(default_factory=list)
    usage: Usage | None = None

    @property
    def text(self) -> str:
        return (self.choices[0].message.content or "") if self.choices else ""


class Delta(Wire):
    role: str | None = None
    content: str | None = None


class ChunkChoice(Wire):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class ChatCompletionChunk(Wire):
    id: str = ""
    object: str = "chat.completion.chunk"
    created: int | None = None
    model: str = ""
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None


class CompletionChoice(Wire):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None


class Completion(Wire):
    """A text completion; the same shape is used for every streamed chunk of one."""

    id: str = ""
    object: str = "text_completion"
    created: int | None = None
    model: str = ""
    choices: list[CompletionChoice] = Field(default_factory=list)
    usage: Usage | None = None

    @property
    def text(self) -> str:
        return self.choices[0].text if self.choices else ""


class TokenizeResult(Wire):
    count: int
    max_model_len: int | None = None
    tokens: list[int] = Field(default_factory=list)


class Embedding(Wire):
    index: int = 0
    embedding: list[float] = Field(default_factory=list)


class EmbeddingList(Wire):
    object: str = "list"
    model: str = ""
    data: list[Embedding] = Field(default_factory=list)
    usage: Usage | None = None


class VersionInfo(Wire):
    version: str


def chat_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    stream: bool,
    include_usage: bool = True,
    max_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    extra: dict[str, Any] | None = None,
    prompt: str | None = None,
) -> dict[str, Any]:
    """Request body for /v1/chat/completions (``messages``) or /v1/completions (``prompt``)."""
    body: dict[str, Any] = {"model": model, "stream": stream}
    if prompt is not None:
        body["prompt"] = prompt
    else:
        body["messages"] = messages
    if stream and include_usage:
        body["stream_options"] = {"include_usage": True}
    for key, value in (("max_tokens", max_tokens), ("temperature", temperature), ("seed", seed)):
        if value is not None:
            body[key] = value
    body.update(extra or {})
    return body


class ChatReader:
    """Reads chat chunks for :mod:`o2v.servers.streams`."""

    def text(self, chunk: ChatCompletionChunk) -> str:
        return "".join(choice.delta.content or "" for choice in chunk.choices)

    def absorb(self, result: StreamResult, chunk: ChatCompletionChunk) -> None:
        for choice in chunk.choices:
            if choice.finish_reason:
                result.finish_reason = choice.finish_reason
        if chunk.usage is not None:
            result.prompt_tokens = chunk.usage.prompt_tokens
            result.completion_tokens = chunk.usage.completion_tokens


class CompletionReader:
    """Reads text-completion chunks for :mod:`o2v.servers.streams`."""

    def text(self, chunk: Completion) -> str:
        return "".join(choice.text for choice in chunk.choices)

    def absorb(self, result: StreamResult, chunk: Completion) -> None:
        for choice in chunk.choices:
            if choice.finish_reason:
                result.finish_reason = choice.finish_reason
        if chunk.usage is not None:
            result.prompt_tokens = chunk.usage.prompt_tokens
            result.completion_tokens = chunk.usage.completion_tokens
