"""OpenAI-compatible request parsing and response shapes, as vLLM and Ollama's ``/v1`` write them.

The two servers differ in small ways that clients notice (ids, ``system_fingerprint``, where
``finish_reason`` goes, error bodies), so one :class:`OpenAIStyle` per server carries those choices.
Per-token chunks are built from precomputed byte prefixes and suffixes: that is the hot path.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from o2v.simulate.common import VOCAB, VOCAB_JSON, count_tokens, dumps


class BadRequest(Exception):
    """A request the real server would refuse; ``status``/``err_type`` as that server reports them."""

    def __init__(
        self, message: str, status: int = 400, err_type: str = "BadRequestError", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type
        self.param = param


@dataclass
class OpenAIStyle:
    server: str  # "vllm" | "ollama"
    legacy_errors: bool = False  # vLLM before Aug 2025: flat {"object":"error",...}

    def error_body(self, exc: BadRequest) -> dict[str, Any]:
        if self.server == "ollama":
            # Ollama's openai.NewError: 400 and 404 are typed, every other status is "api_error".
            kind = {400: "invalid_request_error", 404: "not_found_error"}.get(exc.status, "api_error")
            return {"error": {"message": exc.message, "type": kind, "param": None, "code": None}}
        if self.legacy_errors:
            return {
                "object": "error",
                "message": exc.message,
                "type": exc.err_type,
                "param": exc.param,
                "code": exc.status,
            }
        return {"error": {"message": exc.message, "type": exc.err_type, "param": exc.param, "code": exc.status}}


@dataclass
class OpenAIRequest:
    chat: bool
    model: str
    prompt_text: str
    prompt_tokens: int
    stream: bool
    include_usage: bool
    continuous_usage: bool
    max_tokens: int | None
    seed: object
    echo: bool = False


def _messages_text(messages: object) -> tuple[str, int]:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: Input should be a non-empty list of messages", param="messages")
    parts, tokens = [], 1  # <|begin_of_text|>
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or "role" not in msg:
            raise BadRequest(f"messages.{i}: each message needs a 'role' and 'content'", param="messages")
        content = msg.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if content is not None and not isinstance(content, str):
            raise BadRequest(f"messages.{i}.content: Input should be a valid string", param="messages")
        parts.append(f"{msg['role']}: {content or ''}")
        tokens += 4 + count_tokens(content or "")  # header ids + <|eot_id|>
    return "\n".join(parts), tokens + 3  # assistant header


def parse_request(body: object, chat: bool) -> OpenAIRequest:
    if not isinstance(body, dict):
        raise BadRequest("Input should be a valid dictionary or object to extract fields from")
    if chat:
        text, ptoks = _messages_text(body.get("messages"))
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, list):
            prompt = "".join(p if isinstance(p, str) else "" for p in prompt)
        if not isinstance(prompt, str):
            raise BadRequest("prompt: Field required (a string or a list of strings)", param="prompt")
        text, ptoks = prompt, max(1, count_tokens(prompt) + 1)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream: Input should be a valid boolean", param="stream")
    opts = body.get("stream_options")
    if opts is not None and not stream:
        raise BadRequest("Stream options can only be defined when `stream=True`.", param="stream_options")
    opts = opts if isinstance(opts, dict) else {}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0):
        raise BadRequest("max_tokens: Input should be a valid non-negative integer", param="max_tokens")
    temperature = body.get("temperature")
    if temperature is not None and not isinstance(temperature, int | float):
        raise BadRequest("temperature: Input should be a valid number", param="temperature")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("model: Input should be a valid string", param="model")
    return OpenAIRequest(
        chat=chat,
        model=model or "",
        prompt_text=text,
        prompt_tokens=ptoks,
        stream=stream,
        include_usage=bool(opts.get("include_usage")),
        continuous_usage=bool(opts.get("continuous_usage_stats")),
        max_tokens=max_tokens,
        seed=body.get("seed"),
        echo=bool(body.get("echo")),
    )


def usage(prompt: int, completion: int) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion}


class OpenAIStream:
    """Builds the SSE chunks of one streamed response (and the body of a non-streamed one)."""

    def __init__(self, style: OpenAIStyle, req: OpenAIRequest, model: str) -> None:
        self.style = style
        self.req = req
        self.model = model
        self.created = int(time.time())
        vllm = style.server == "vllm"
        if req.chat:
            self.id = ("chatcmpl-" + uuid.uuid4().hex) if vllm else f"chatcmpl-{uuid.uuid4().int % 1000}"
            self.object = "chat.completion.chunk"
        else:
            self.id = ("cmpl-" + uuid.uuid4().hex) if vllm else f"cmpl-{uuid.uuid4().int % 1000}"
            self.object = "text_completion"
        head = {"id": self.id, "object": self.object, "created": self.created, "model": model}
        if not vllm:
            head["system_fingerprint"] = "fp_ollama"
        self._head = dumps(head)[:-1]
        if req.chat:
            role = '"role":"assistant",' if not vllm else ""
            tail = ',"logprobs":null,"finish_reason":null}]}\n\n' if vllm else ',"finish_reason":null}]}\n\n'
            self._prefix = (f'data: {self._head},"choices":[{{"index":0,"delta":{{{role}"content":"').encode()
            self._suffix = ('"}' + tail).encode()
        else:
            tail = (
                ',"logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n'
                if vllm
                else ',"finish_reason":null}]}\n\n'
            )
            self._prefix = f'data: {self._head},"choices":[{{"index":0,"text":"'.encode()
            self._suffix = ('"' + tail).encode()

    def _event(self, obj: dict[str, Any]) -> bytes:
        return b"data: " + dumps(obj).encode() + b"\n\n"

    def _base(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
        }
        if self.style.server == "ollama":
            out["system_fingerprint"] = "fp_ollama"
        return out

    def first(self) -> bytes | None:
        """vLLM opens a chat stream with an empty assistant delta."""
        if self.req.chat and self.style.server == "vllm":
            return self._event(
                {
                    **self._base(),
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }
            )
        return None

    def token(self, idx: int, n_prompt: int = 0, n_done: int = 0) -> bytes:
        if self.req.continuous_usage:
            return self._choice_event(VOCAB[idx], None, usage(n_prompt, n_done))
        return self._prefix + VOCAB_JSON[idx].encode() + self._suffix

    def _choice_event(self, text: str, finish: str | None, use: dict[str, Any] | None = None) -> bytes:
        vllm = self.style.server == "vllm"
        if self.req.chat:
            delta: dict[str, Any] = {"content": text} if vllm else {"role": "assistant", "content": text}
            choice: dict[str, Any] = {"index": 0, "delta": delta}
        else:
            choice = {"index": 0, "text": text}
        if vllm:
            choice["logprobs"] = None
        choice["finish_reason"] = finish
        if vllm and (finish or not self.req.chat):
            choice["stop_reason"] = None
        obj = {**self._base(), "choices": [choice]}
        if use is not None:
            obj["usage"] = use
        return self._event(obj)

    def finish(self, reason: str, completion_tokens: int) -> bytes:
        """The finish chunk, the usage chunk when asked for, and ``[DONE]``."""
        use = usage(self.req.prompt_tokens, completion_tokens)
        out = self._choice_event("", reason, use if self.req.continuous_usage else None)
        if self.req.include_usage:
            out += self._event({**self._base(), "choices": [], "usage": use})
        return out + b"data: [DONE]\n\n"

    def whole(self, text: str, reason: str, completion_tokens: int) -> dict[str, Any]:
        vllm = self.style.server == "vllm"
        base = self._base()
        base["object"] = "chat.completion" if self.req.chat else "text_completion"
        if self.req.chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if vllm:
                message.update({"reasoning_content": None, "tool_calls": []})
            choice: dict[str, Any] = {"index": 0, "message": message}
        else:
            choice = {"index": 0, "text": (self.req.prompt_text if self.req.echo else "") + text}
        if vllm:
            choice["logprobs"] = None
        choice["finish_reason"] = reason
        if vllm:
            choice["stop_reason"] = None
        base["choices"] = [choice]
        base["usage"] = usage(self.req.prompt_tokens, completion_tokens)
        if vllm:
            base["usage"]["prompt_tokens_details"] = None
            base["prompt_logprobs"] = None
        return base

    def error_event(self, exc: BadRequest) -> bytes:
        return self._event(self.style.error_body(exc)) + b"data: [DONE]\n\n"
