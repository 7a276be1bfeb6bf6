"""Typed answers of Ollama's native API.

Wire names are kept as aliases; Python names carry units (``size_bytes``, ``total_duration_ns``) because
Ollama reports every duration in integer nanoseconds and a misread unit would silently skew every figure.
Unknown fields are allowed: Ollama adds fields in minor releases.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from o2v.servers.streams import StreamResult


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ModelDetails(Wire):
    parent_model: str = ""
    format: str = ""
    family: str = ""
    families: list[str] | None = None
    parameter_size: str = ""
    quantization_level: str = ""


class LocalModel(Wire):
    """One entry of ``/api/tags``."""

    name: str
    model: str = ""
    modified_at: str | None = None
    size_bytes: int = Field(default=0, alias="size")
    digest: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    capabilities: list[str] | None = None


class TagList(Wire):
    models: list[LocalModel] = Field(default_factory=list)


class RunningModel(Wire):
    """One entry of ``/api/ps``."""

    name: str
    model: str = ""
    size_bytes: int = Field(default=0, alias="size")
    digest: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    expires_at: str | None = None
    size_vram_bytes: int = Field(default=0, alias="size_vram")
    context_length: int | None = None


class RunningList(Wire):
    models: list[RunningModel] = Field(default_factory=list)


class ShowResponse(Wire):
    """``/api/show``; the ``model_info`` GGUF keys are what the plan sizes vLLM's KV cache from."""

    license: str | None = None
    modelfile: str | None = None
    parameters: str | None = None
    template: str | None = None
    system: str | None = None
    details: ModelDetails = Field(default_factory=ModelDetails)
    model_info: dict[str, Any] = Field(default_factory=dict)
    capabilities: list[str] = Field(default_factory=list)
    modified_at: str | None = None

    @property
    def architecture(self) -> str | None:
        value = self.model_info.get("general.architecture")
        return str(value) if value is not None else None

    def arch_value(self, key: str) -> int | None:
        """``<architecture>.<key>`` from model_info as an int, e.g. ``arch_value("context_length")``."""
        if self.architecture is None:
            return None
        value = self.model_info.get(f"{self.architecture}.{key}")
        return int(value) if isinstance(value, int | float) else None

    @property
    def context_length(self) -> int | None:
        return self.arch_value("context_length")

    @property
    def parameter_count(self) -> int | None:
        value = self.model_info.get("general.parameter_count")
        return int(value) if isinstance(value, int | float) else None


class _Final(Wire):
    """Fields present only on the final object (``done: true``); durations in nanoseconds."""

    model: str = ""
    created_at: str | None = None
    done: bool = False
    done_reason: str | None = None
    total_duration_ns: int | None = Field(default=None, alias="total_duration")
    load_duration_ns: int | None = Field(default=None, alias="load_duration")
    prompt_eval_count: int | None = None
    prompt_eval_duration_ns: int | None = Field(default=None, alias="prompt_eval_duration")
    eval_count: int | None = None
    eval_duration_ns: int | None = Field(default=None, alias="eval_duration")


class GenerateResponse(_Final):
    """A ``/api/generate`` answer or stream line."""

    response: str = ""
    context: list[int] | None = None


class OllamaMessage(Wire):
    role: str = "assistant"
    content: str = ""
    thinking: str | None = None


class ChatResponse(_Final):
    """A ``/api/chat`` answer or stream line."""

    message: OllamaMessage = Field(default_factory=OllamaMessage)


class EmbedResponse(Wire):
    """``/api/embed``: one vector per input."""

    model: str = ""
    embeddings: list[list[float]] = Field(default_factory=list)
    total_duration_ns: int | None = Field(default=None, alias="total_duration")
    prompt_eval_count: int | None = None


class VersionInfo(Wire):
    version: str


def _absorb_final(result: StreamResult, chunk: _Final) -> None:
    if chunk.done:
        result.finish_reason = chunk.done_reason
        result.prompt_tokens = chunk.prompt_eval_count
        result.completion_tokens = chunk.eval_count


class GenerateReader:
    def text(self, chunk: GenerateResponse) -> str:
        return chunk.response

    def absorb(self, result: StreamResult, chunk: GenerateResponse) -> None:
        _absorb_final(result, chunk)


class ChatReader:
    def text(self, chunk: ChatResponse) -> str:
        return chunk.message.content

    def absorb(self, result: StreamResult, chunk: ChatResponse) -> None:
        _absorb_final(result, chunk)


def native_body(
    model: str,
    *,
    stream: bool,
    prompt: str | None = None,
    messages: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    keep_alive: str | int | float | None = None,
    system: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Body for /api/generate (``prompt``) or /api/chat (``messages``); ``stream`` is always explicit."""
    body: dict[str, Any] = {"model": model, "stream": stream}
    if messages is not None:
        body["messages"] = messages
    else:
        body["prompt"] = prompt if prompt is not None else ""
    if options:
        body["options"] = options
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    if system is not None:
        body["system"] = system
    body.update(extra or {})
    return body
