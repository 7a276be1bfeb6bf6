"""Ollama chat messages, images and tools in OpenAI's shape, as vLLM's chat endpoint reads them.

The differences that matter (Ollama ``api.Message`` / ``api.ToolCall`` against OpenAI's chat types):

- images: Ollama sends bare base64 in ``message.images``; OpenAI wants ``image_url`` content parts holding data
  URLs, so the MIME type is read from the image's first bytes. Ollama's prompt puts the images before the text,
  and so do we.
- tool calls: Ollama's ``function.arguments`` is a JSON object, OpenAI's a string holding JSON.
- tool results: Ollama names the tool (``tool_name``, newer clients also ``tool_call_id``); OpenAI needs the
  ``tool_call_id`` of the call being answered, so a missing one is found among the assistant's earlier calls.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from o2v.errors import TranslationError

# First bytes -> MIME type, for the formats vLLM's image loader (PIL) reads.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def image_mime(data: bytes) -> str | None:
    """The MIME type of an image from its magic bytes, or None when it is no format we know."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return None


def image_part(encoded: Any, where: str) -> dict[str, Any]:
    """One Ollama image (base64 text) as an OpenAI ``image_url`` content part with a data URL."""
    if not isinstance(encoded, str):
        raise TranslationError(f"{where}: an image must be a base64 string, got {type(encoded).__name__}")
    text = encoded.strip()
    if text.startswith("data:"):
        # Some clients send data URLs although Ollama documents bare base64; strip the header and re-check.
        text = text.partition(",")[2]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TranslationError(f"{where}: the image is not valid base64 ({exc})") from exc
    mime = image_mime(data[:16])
    if mime is None:
        raise TranslationError(
            f"{where}: the image is not PNG, JPEG, WebP, GIF, BMP or TIFF (first bytes {data[:8].hex()}), "
            "so vLLM could not decode it"
        )
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{text}"}}


def with_images(content: str, images: Any, where: str) -> str | list[dict[str, Any]]:
    """Message content with its images as content parts (images first, as Ollama's prompt puts them)."""
    if images is None or images == []:
        return content
    if not isinstance(images, list):
        raise TranslationError(f"{where}: images must be a list of base64 strings")
    parts = [image_part(image, f"{where} image {i}") for i, image in enumerate(images)]
    if content:
        parts.append({"type": "text", "text": content})
    return parts


def call_id(seed: str) -> str:
    """A stable 9-character id for a tool call that came without one (Mistral templates require exactly 9)."""
    return hashlib.sha256(seed.encode()).hexdigest()[:9]


def tool_calls_out(calls: Any, where: str) -> list[dict[str, Any]]:
    """Ollama tool calls (arguments as an object) -> OpenAI tool calls (arguments as a JSON string)."""
    if not isinstance(calls, list):
        raise TranslationError(f"{where}: tool_calls must be a list")
    out = []
    for i, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise TranslationError(f"{where}: tool call {i} needs function.name")
        arguments = function.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise TranslationError(f"{where}: tool call {i} arguments must be a JSON object")
        ident = call.get("id") or call_id(f"{where}/{i}/{function['name']}")
        out.append(
            {
                "id": ident,
                "type": "function",
                "function": {"name": function["name"], "arguments": json.dumps(arguments, ensure_ascii=False)},
            }
        )
    return out


def tools_out(tools: Any) -> list[dict[str, Any]]:
    """Ollama tool definitions -> OpenAI tools (the same JSON Schema function shape; ``type`` defaults)."""
    if not isinstance(tools, list):
        raise TranslationError("tools must be a list of tool definitions")
    out = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise TranslationError(f"tool {i} needs a function with a name")
        kind = tool.get("type") or "function"
        if kind != "function":
            raise TranslationError(f"tool {i} has type {kind!r}; vLLM only takes function tools")
        spec: dict[str, Any] = {"name": function["name"]}
        if function.get("description"):
            spec["description"] = function["description"]
        spec["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
        out.append({"type": "function", "function": spec})
    return out


class _PendingCalls:
    """The assistant's tool calls not answered yet, to give tool results the id of the call they answer."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def reset(self, calls: list[dict[str, Any]]) -> None:
        self.calls = list(calls)

    def answer(self, tool_name: Any, ident: Any) -> str | None:
        """The id of the call a tool result answers: its own id, else the first open call of that tool."""
        for i, call in enumerate(self.calls):
            if call["id"] == ident or (not ident and (not tool_name or call["function"]["name"] == tool_name)):
                return str(self.calls.pop(i)["id"])
        return str(ident) if ident else None


def _content(message: dict[str, Any], where: str) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        raise TranslationError(f"{where}: content must be a string (Ollama's native API takes text only)")
    return content


def messages_out(messages: Any) -> list[dict[str, Any]]:
    """Ollama chat messages -> OpenAI chat messages for vLLM."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise TranslationError("json: cannot unmarshal into Go struct field ChatRequest.messages of type []api.Message")
    out: list[dict[str, Any]] = []
    pending = _PendingCalls()
    for n, message in enumerate(messages):
        where = f"message {n}"
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise TranslationError(f"{where}: role is required")
        role = role.lower()  # Ollama lower-cases roles when it decodes them
        content = _content(message, where)
        item: dict[str, Any] = {"role": role, "content": with_images(content, message.get("images"), where)}
        if role == "assistant":
            if message.get("thinking"):
                item["reasoning"] = message["thinking"]  # vLLM's name; templates that replay reasoning read it
            if message.get("tool_calls"):
                item["tool_calls"] = tool_calls_out(message["tool_calls"], where)
                pending.reset(item["tool_calls"])
        elif role == "tool":
            ident = pending.answer(message.get("tool_name"), message.get("tool_call_id"))
            if ident:
                item["tool_call_id"] = ident
            if message.get("tool_name"):
                item["name"] = message["tool_name"]
        out.append(item)
    return out
