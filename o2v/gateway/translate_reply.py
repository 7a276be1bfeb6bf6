"""Whole (non-streamed) vLLM answers as Ollama's single reply objects: chat, generate and embeddings.

The same field order and conversions as the streamed lines (:mod:`o2v.gateway.translate_stream`). A whole
answer has no first-token time of its own: vLLM's ``metrics.time_to_first_token_ms`` is used when the body
carries it; otherwise ``prompt_eval_duration`` is left out and ``eval_duration`` is the whole elapsed time.
"""

from __future__ import annotations

import math
from typing import Any

from o2v.gateway.translate_meta import rfc3339_nano
from o2v.gateway.translate_stream import Kind, done_reason, logprobs_in, metrics, reasoning, tool_calls_in


def native_reply(kind: Kind, openai_body: dict[str, Any], model: str, elapsed_ns: int) -> dict[str, Any]:
    """A whole (non-streamed) vLLM answer as Ollama's single reply object.

    vLLM does not time a whole answer unless asked (``metrics.time_to_first_token_ms`` when present), so
    without it ``prompt_eval_duration`` is left out and ``eval_duration`` is the whole ``elapsed_ns``.
    """
    choices = openai_body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message")
    if isinstance(message, dict):
        text, thinking = message.get("content") or "", reasoning(message)
        calls = tool_calls_in(message.get("tool_calls"))
    else:
        text, thinking, calls = choice.get("text") or "", "", []
    out: dict[str, Any] = {"model": model, "created_at": rfc3339_nano()}
    if kind == "chat":
        reply_message: dict[str, Any] = {"role": "assistant", "content": text}
        if thinking:
            reply_message["thinking"] = thinking
        if calls:
            reply_message["tool_calls"] = calls
        out["message"] = reply_message
    else:
        out["response"] = text
        if thinking:
            out["thinking"] = thinking
    out["done"] = True
    out["done_reason"] = done_reason(choice.get("finish_reason"))
    logprobs = logprobs_in(choice)
    if logprobs:
        out["logprobs"] = logprobs
    usage = openai_body.get("usage") or {}
    ttft_ms = (openai_body.get("metrics") or {}).get("time_to_first_token_ms")
    prompt_eval = min(elapsed_ns, int(ttft_ms * 1e6)) if isinstance(ttft_ms, int | float) else None
    out.update(
        metrics(
            total=max(0, elapsed_ns),
            prompt_eval=prompt_eval,
            eval_=max(0, elapsed_ns - (prompt_eval or 0)),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )
    )
    if calls and kind == "generate":
        out["tool_calls"] = calls
    return out


def _normalised(vector: list[float]) -> list[float]:
    # Ollama's /api/embed L2-normalises every vector; vLLM usually has already, so this changes nothing then.
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else list(vector)


def native_embed_reply(
    openai_body: dict[str, Any], model: str, *, legacy: bool, elapsed_ns: int | None = None
) -> dict[str, Any]:
    """vLLM's ``/v1/embeddings`` answer as ``/api/embed`` (``embeddings``) or legacy ``/api/embeddings``."""
    data = sorted(openai_body.get("data") or [], key=lambda item: item.get("index", 0))
    vectors = [list(item.get("embedding") or []) for item in data]
    if legacy:
        return {"embedding": vectors[0] if vectors else []}
    out: dict[str, Any] = {"model": model, "embeddings": [_normalised(v) for v in vectors]}
    if elapsed_ns is not None:
        out["total_duration"] = max(0, elapsed_ns)
    out["load_duration"] = 0
    prompt_tokens = (openai_body.get("usage") or {}).get("prompt_tokens")
    if isinstance(prompt_tokens, int):
        out["prompt_eval_count"] = prompt_tokens
    return out
