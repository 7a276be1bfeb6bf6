"""Ollama's native API on vLLM: pure functions from native requests to vLLM calls and from vLLM answers back.

The gateway calls these for a client routed to vLLM; nothing here does I/O, so each mapping is tested alone.

    call = translate_chat(body, served_model="llama3.1:8b")     # -> NativeCall(path, body, stream, ...)
    if call.reply is not None: answer call.reply at once       # load/unload requests: vLLM has nothing to do
    else: POST call.body to vLLM at call.path, then
        stream: s = NativeStream("chat", body["model"]); s.feed(event) per SSE event; s.finish() last
        whole:  native_reply("chat", vllm_json, body["model"], elapsed_ns)
    count call.ignored_options for the client (keep_alive, num_ctx, ...: accepted, not honoured by vLLM)

Requests that cannot be expressed for vLLM raise :class:`TranslationError` (status 400, or 404) whose message
goes to the client as Ollama's ``{"error": ...}``. What is translated, counted and refused: docs/gateway.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from o2v.errors import TranslationError
from o2v.gateway.translate_messages import messages_out, tools_out, with_images
from o2v.gateway.translate_meta import (
    native_ps,
    native_show,
    native_tags,
    native_version,
    ollama_error,
    openai_error,
    rfc3339_nano,
)
from o2v.gateway.translate_options import map_format, map_options, map_think, unhonoured_fields
from o2v.gateway.translate_reply import native_embed_reply, native_reply
from o2v.gateway.translate_stream import NativeStream

__all__ = [
    "NativeCall",
    "NativeStream",
    "TranslationError",
    "native_embed_reply",
    "native_ps",
    "native_reply",
    "native_show",
    "native_tags",
    "native_version",
    "ollama_error",
    "openai_error",
    "translate_chat",
    "translate_embed",
    "translate_generate",
]

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"
EMBEDDINGS_PATH = "/v1/embeddings"


@dataclass
class NativeCall:
    """One native request as a vLLM call.

    ``reply`` is set when vLLM has nothing to do and the gateway answers at once with it (an empty prompt loads
    a model in Ollama, ``keep_alive: 0`` unloads it; vLLM's model is always loaded).
    """

    path: str
    body: dict[str, Any]
    stream: bool
    ignored_options: list[str] = field(default_factory=list)
    reply: dict[str, Any] | None = None


def _request(body: Any, go_type: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        kind = {list: "array", str: "string", int: "number", float: "number", bool: "bool"}.get(type(body), "value")
        raise TranslationError(f"json: cannot unmarshal {kind} into Go value of type api.{go_type}")
    return body


def _stream(body: dict[str, Any]) -> bool:
    value = body.get("stream")
    if value is None:
        return True  # Ollama streams unless told not to
    if not isinstance(value, bool):
        raise TranslationError("json: cannot unmarshal into Go struct field .stream of type bool")
    return value


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TranslationError(f"json: cannot unmarshal into Go struct field .{key} of type string")
    return value


def _model_name(body: dict[str, Any]) -> str:
    name = body.get("model") or body.get("name") or ""
    return name if isinstance(name, str) else str(name)


def _load_reply(body: dict[str, Any], chat: bool) -> dict[str, Any]:
    """Ollama's answer to an empty prompt: ``done_reason`` "load", or "unload" with ``keep_alive: 0``."""
    keep_alive = body.get("keep_alive")
    unload = keep_alive in (0, "0", "0s", "0m", "0h") and not isinstance(keep_alive, bool)
    reply: dict[str, Any] = {"model": _model_name(body), "created_at": rfc3339_nano()}
    if chat:
        reply["message"] = {"role": "assistant", "content": ""}
    else:
        reply["response"] = ""
    reply["done"] = True
    reply["done_reason"] = "unload" if unload else "load"
    return reply


def _sampling(body: dict[str, Any], served_model: str, stream: bool) -> tuple[dict[str, Any], list[str]]:
    """The fields every generation call shares: model, stream (+ usage in the stream), options, format."""
    out: dict[str, Any] = {"model": served_model, "stream": stream}
    if stream:
        out["stream_options"] = {"include_usage": True}  # the final done line needs the token counts
    fields, ignored = map_options(body.get("options"))
    out.update(fields)
    out.update(map_format(body.get("format")))
    return out, unhonoured_fields(body) + ignored


def _logprobs(body: dict[str, Any], out: dict[str, Any]) -> None:
    if body.get("logprobs"):
        top = body.get("top_logprobs") or 0
        if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= 20:
            raise TranslationError("top_logprobs must be between 0 and 20")
        out["logprobs"] = True
        if top:
            out["top_logprobs"] = top


def translate_chat(body: Any, served_model: str) -> NativeCall:
    """``/api/chat`` -> vLLM ``/v1/chat/completions``."""
    body = _request(body, "ChatRequest")
    stream = _stream(body)
    out, ignored = _sampling(body, served_model, stream)
    messages = body.get("messages")
    if messages is None or messages == []:
        return NativeCall(CHAT_PATH, {}, stream, ignored, reply=_load_reply(body, chat=True))
    out["messages"] = messages_out(messages)
    if body.get("tools"):
        out["tools"] = tools_out(body["tools"])
    out.update(map_think(body.get("think")))
    _logprobs(body, out)
    return NativeCall(CHAT_PATH, out, stream, ignored)


def _refuse_generate(body: dict[str, Any], raw: bool) -> None:
    if _string(body, "suffix"):
        raise TranslationError(
            "suffix (fill-in-the-middle) cannot be served by vLLM: its /v1/completions answers "
            "'suffix is not currently supported'; route this client or model to Ollama"
        )
    template, system = _string(body, "template"), _string(body, "system")
    if raw and (template or system or body.get("context")):
        raise TranslationError("raw mode does not support template, system, or context")
    if body.get("context"):
        raise TranslationError(
            "context (token ids from an earlier Ollama answer) cannot be replayed on vLLM, whose tokenizer "
            "and prompt differ; send the conversation as /api/chat messages instead"
        )
    if template:
        raise TranslationError(
            "template (an Ollama Go template) cannot run on vLLM, which applies the model's own chat template; "
            "send raw=true with a rendered prompt, or route this client to Ollama"
        )


def translate_generate(body: Any, served_model: str) -> NativeCall:
    """``/api/generate`` -> ``/v1/completions`` (raw, prompt as is) or ``/v1/chat/completions`` (system + user)."""
    body = _request(body, "GenerateRequest")
    stream = _stream(body)
    raw = body.get("raw") is True
    _refuse_generate(body, raw)
    prompt = _string(body, "prompt")
    out, ignored = _sampling(body, served_model, stream)
    if not prompt:
        return NativeCall(COMPLETIONS_PATH if raw else CHAT_PATH, {}, stream, ignored, reply=_load_reply(body, False))
    if raw:
        if body.get("images"):
            raise TranslationError(
                "images with raw=true cannot be served by vLLM: its /v1/completions takes text only; "
                "send raw=false (the chat endpoint carries images) or route this client to Ollama"
            )
        if body.get("think") is not None:
            ignored.append("think")  # no chat template in raw mode, so nothing to switch thinking on or off
        out["prompt"] = prompt
        # /v1/completions stops at 16 tokens when max_tokens is absent; null means "up to the model length",
        # which is what Ollama's default num_predict (-1) asks for.
        out.setdefault("max_tokens", None)
        _logprobs_completion(body, out)
        return NativeCall(COMPLETIONS_PATH, out, stream, ignored)
    messages: list[dict[str, Any]] = []
    system = _string(body, "system")
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": with_images(prompt, body.get("images"), "prompt")})
    out["messages"] = messages
    out.update(map_think(body.get("think")))
    _logprobs(body, out)
    return NativeCall(CHAT_PATH, out, stream, ignored)


def _logprobs_completion(body: dict[str, Any], out: dict[str, Any]) -> None:
    # /v1/completions counts alternatives in ``logprobs`` itself (0 = the chosen token only).
    probe: dict[str, Any] = {}
    _logprobs(body, probe)
    if probe:
        out["logprobs"] = probe.get("top_logprobs", 0)


def translate_embed(body: Any, served_model: str, *, legacy: bool) -> NativeCall:
    """``/api/embed`` (``input``: text or list) or legacy ``/api/embeddings`` (``prompt``) -> ``/v1/embeddings``."""
    body = _request(body, "EmbeddingRequest" if legacy else "EmbedRequest")
    map_options(body.get("options"))  # the same type checks as Ollama's; no option changes an embedding on vLLM
    ignored = unhonoured_fields({**body, "truncate": None}) + sorted(body.get("options") or {})
    if legacy:
        prompt = _string(body, "prompt")
        inputs = [prompt] if prompt else []
        empty: dict[str, Any] = {"embedding": []}
    else:
        raw = body.get("input")
        if isinstance(raw, str):
            inputs = [raw] if raw else []
        elif raw is None or (isinstance(raw, list) and all(isinstance(x, str) for x in raw)):
            inputs = list(raw or [])
        else:
            raise TranslationError("invalid input type")
        empty = {"model": _model_name(body), "embeddings": []}
    if not inputs:
        return NativeCall(EMBEDDINGS_PATH, {}, False, ignored, reply=empty)  # Ollama's answer to nothing to embed
    out: dict[str, Any] = {"model": served_model, "input": inputs, "encoding_format": "float"}
    dimensions = body.get("dimensions")
    if dimensions:
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 0:
            raise TranslationError("dimensions must be a positive integer")
        out["dimensions"] = dimensions
    if not legacy and body.get("truncate") is not False:
        out["truncate_prompt_tokens"] = -1  # Ollama truncates to the context by default; -1 = vLLM's model length
    return NativeCall(EMBEDDINGS_PATH, out, False, ignored)
