"""vLLM's streamed answers (SSE chunks) as Ollama's native NDJSON lines, field for field.

Shapes follow Ollama's ``api.ChatResponse`` / ``api.GenerateResponse`` in their Go field order: ``model``,
``created_at`` (RFC3339 with nanoseconds), ``message`` or ``response``, ``done``; the final line adds
``done_reason`` and the metrics, all durations in integer nanoseconds. Ollama emits a tool call whole, with
its arguments as an object, so streamed tool-call deltas are gathered and sent once the choice finishes.

Timing on a stream comes from the gateway's own clock: ``prompt_eval_duration`` is the time from the request to
the first generated delta (queue + prefill, what Ollama's figure means to a client), ``eval_duration`` the rest.
vLLM loads its model once at start-up, so ``load_duration`` is 0. Token counts come from vLLM's usage (the
translated request always asks for it); without usage ``eval_count`` is the number of deltas, one per token on
vLLM except with speculative decoding, and ``prompt_eval_count`` is left out rather than guessed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

import orjson

from o2v.errors import TranslationError
from o2v.gateway.translate_meta import rfc3339_nano

Kind = Literal["chat", "generate"]

# vLLM finish_reason -> Ollama done_reason. Ollama says "stop" when the answer ends in tool calls.
_DONE_REASONS = {"stop": "stop", "tool_calls": "stop", "function_call": "stop", "length": "length"}


def done_reason(finish_reason: str | None) -> str:
    if not finish_reason:
        return "stop"
    return _DONE_REASONS.get(finish_reason, finish_reason)


def ndjson_line(obj: dict[str, Any]) -> bytes:
    """One compact JSON line, UTF-8 as Go writes it. orjson is fast but stops at 64-bit integers, which a tool
    call's arguments may hold; the standard library takes those."""
    try:
        return orjson.dumps(obj) + b"\n"
    except orjson.JSONEncodeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _arguments(text: str, name: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    # vLLM's fault, not the client's: a bad gateway (502) when it ends a whole reply.
    what = f"vLLM returned tool call {name!r} with arguments that are not a JSON object: {text[:200]!r}"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise TranslationError(what, status=502) from exc
    if not isinstance(value, dict):
        raise TranslationError(what, status=502)
    return value


def _ollama_call(index: int, ident: str | None, name: str, arguments: str) -> dict[str, Any]:
    call: dict[str, Any] = {}
    if ident:
        call["id"] = ident
    call["function"] = {"index": index, "name": name, "arguments": _arguments(arguments, name)}
    return call


def tool_calls_in(calls: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """OpenAI tool calls (arguments as a JSON string) -> Ollama's (arguments as an object)."""
    out = []
    for i, call in enumerate(calls or []):
        function = call.get("function") or {}
        out.append(_ollama_call(i, call.get("id"), str(function.get("name") or ""), function.get("arguments") or ""))
    return out


def logprobs_in(choice: dict[str, Any]) -> list[dict[str, Any]]:
    """A choice's logprobs in Ollama's list shape (chat's ``content`` entries already match it)."""
    raw = choice.get("logprobs")
    if not isinstance(raw, dict):
        return []
    if isinstance(raw.get("content"), list):
        return [{k: v for k, v in item.items() if v is not None} for item in raw["content"]]
    tokens, values, tops = raw.get("tokens") or [], raw.get("token_logprobs") or [], raw.get("top_logprobs") or []
    out = []
    for i, token in enumerate(tokens):
        item: dict[str, Any] = {"token": token, "logprob": values[i] if i < len(values) else 0.0}
        top = tops[i] if i < len(tops) else None
        if isinstance(top, dict) and top:
            item["top_logprobs"] = [{"token": t, "logprob": lp} for t, lp in top.items()]
        out.append(item)
    return out


def reasoning(part: dict[str, Any]) -> str:
    # vLLM says "reasoning" today, "reasoning_content" before (and some servers still do).
    return part.get("reasoning") or part.get("reasoning_content") or ""


class _CallParts:
    """One streamed tool call being put together from its deltas."""

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.arguments: list[str] = []


class NativeStream:
    """Turns the parsed SSE events of one vLLM stream into Ollama NDJSON lines.

    Create it when the request is sent (its clock starts then), ``feed`` every event, then ``finish`` once for
    the ``done: true`` line. Neither raises: an ``{"error": ...}`` event, or a tool call whose arguments are not
    a JSON object, becomes Ollama's in-stream ``{"error": ...}`` line and sets ``failed`` (stop reading then;
    ``finish`` after a failure returns the same error line again rather than a done line).
    """

    def __init__(
        self,
        kind: Kind,
        model: str,
        clock: Callable[[], int] = time.monotonic_ns,
        *,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.kind = kind
        self.model = model
        self._clock = clock
        self._wall = wall_clock
        self._start = clock()
        self._first: int | None = None
        self._usage: dict[str, Any] | None = None
        self._finish_reason: str | None = None
        self._calls: dict[int, _CallParts] = {}
        self._deltas = 0
        self.failed = False
        self._error_line = b""

    def _fail(self, message: str) -> bytes:
        self.failed = True
        self._error_line = ndjson_line({"error": message})
        return self._error_line

    def _line(self, text: str, thinking: str, calls: list[dict[str, Any]], logprobs: list[dict[str, Any]]) -> bytes:
        obj: dict[str, Any] = {"model": self.model, "created_at": rfc3339_nano(self._wall())}
        if self.kind == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if thinking:
                message["thinking"] = thinking
            if calls:
                message["tool_calls"] = calls
            obj["message"] = message
            obj["done"] = False
        else:
            obj["response"] = text
            if thinking:
                obj["thinking"] = thinking
            obj["done"] = False
            if calls:
                obj["tool_calls"] = calls
        if logprobs:
            obj["logprobs"] = logprobs
        return ndjson_line(obj)

    def _absorb_calls(self, deltas: list[dict[str, Any]]) -> None:
        for delta in deltas:
            parts = self._calls.setdefault(int(delta.get("index") or 0), _CallParts())
            parts.id = delta.get("id") or parts.id
            function = delta.get("function") or {}
            parts.name += function.get("name") or ""
            if function.get("arguments"):
                parts.arguments.append(function["arguments"])

    def _take_calls(self) -> list[dict[str, Any]]:
        calls = [
            _ollama_call(i, parts.id, parts.name, "".join(parts.arguments))
            for i, (_, parts) in enumerate(sorted(self._calls.items()))
        ]
        self._calls.clear()
        return calls

    def feed(self, event: dict[str, Any]) -> list[bytes]:
        """The NDJSON lines one parsed SSE event (``chat.completion.chunk`` or ``text_completion``) gives."""
        error = event.get("error")
        if event.get("object") == "error":  # vLLM before Aug 2025: a flat error object
            error = event
        if error is not None and not event.get("choices"):
            message = error.get("message") if isinstance(error, dict) else error
            return [self._fail(str(message or "vLLM reported an error"))]
        if event.get("usage"):
            self._usage = event["usage"]
        lines = []
        for choice in event.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # Ollama has no n > 1; the translated request never asks for it
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text, thinking = delta.get("content") or "", reasoning(delta)
                if delta.get("tool_calls"):
                    self._absorb_calls(delta["tool_calls"])
                    self._first = self._first or self._clock()
            else:
                text, thinking = choice.get("text") or "", ""
            logprobs = logprobs_in(choice)
            if text or thinking or logprobs:
                self._first = self._first or self._clock()
                self._deltas += 1
                lines.append(self._line(text, thinking, [], logprobs))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
                if self._calls:
                    try:
                        lines.append(self._line("", "", self._take_calls(), []))
                    except TranslationError as exc:
                        lines.append(self._fail(str(exc)))
        return lines

    def finish(self) -> bytes:
        """The final ``done: true`` line with done_reason, token counts and durations (ns)."""
        if self.failed:
            return self._error_line
        end = self._clock()
        first = self._first if self._first is not None else end
        try:
            calls = self._take_calls() if self._calls else []
        except TranslationError as exc:
            return self._fail(str(exc))
        obj: dict[str, Any] = {"model": self.model, "created_at": rfc3339_nano(self._wall())}
        if self.kind == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": ""}
            if calls:
                message["tool_calls"] = calls
            obj["message"] = message
        else:
            obj["response"] = ""
        obj["done"] = True
        obj["done_reason"] = done_reason(self._finish_reason)
        usage = self._usage or {}
        obj.update(
            metrics(
                total=max(0, end - self._start),
                prompt_eval=max(0, first - self._start),
                eval_=max(0, end - first),
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens", self._deltas),
            )
        )
        if calls and self.kind == "generate":
            obj["tool_calls"] = calls
        return ndjson_line(obj)


def metrics(
    *, total: int, prompt_eval: int | None, eval_: int, prompt_tokens: Any, completion_tokens: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"total_duration": total, "load_duration": 0}
    if isinstance(prompt_tokens, int):
        out["prompt_eval_count"] = prompt_tokens
    if prompt_eval is not None:
        out["prompt_eval_duration"] = prompt_eval
    if isinstance(completion_tokens, int):
        out["eval_count"] = completion_tokens
    out["eval_duration"] = eval_
    return out
