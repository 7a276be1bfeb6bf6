"""What the official ``ollama`` SDK really sends, captured on the wire, translated for vLLM."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import ollama
from pydantic import BaseModel

from o2v.gateway.translate import translate_chat, translate_embed, translate_generate

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(20)


def captured(call: str, **kwargs: Any) -> dict[str, Any]:
    """The JSON body the SDK sends for one call (answered with an empty but valid reply)."""
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        if request.url.path == "/api/embed":
            return httpx.Response(200, json={"model": "m", "embeddings": [[0.0]]})
        reply: dict[str, Any] = {"model": "m", "created_at": "2025-01-15T10:00:00Z", "done": True}
        reply.update({"message": {"role": "assistant", "content": ""}} if call == "chat" else {"response": ""})
        return httpx.Response(200, json=reply)

    client = ollama.Client(host="http://ollama", transport=httpx.MockTransport(handler))
    getattr(client, call)(**kwargs)
    return seen[0]


def get_weather(city: str, days: int = 1) -> str:
    """Weather forecast for a city.

    Args:
        city: The city name
        days: How many days ahead
    """
    return "sunny"


class Person(BaseModel):
    name: str
    age: int


def test_sdk_chat_with_tools_images_options_format_and_think() -> None:
    sent = captured(
        "chat",
        model="llama3.1:8b",
        messages=[
            {"role": "user", "content": "Who is this and what is the weather?", "images": [PNG]},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
            },
            {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
        ],
        tools=[get_weather],
        options={"temperature": 0.1, "num_ctx": 4096, "num_predict": 100},
        format=Person.model_json_schema(),
        think=False,
        keep_alive="1h",
        stream=False,
    )
    call = translate_chat(sent, "served")
    body = call.body
    user, assistant, tool = body["messages"]
    assert user["content"][0] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
    }
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
    function = body["tools"][0]["function"]
    assert function["name"] == "get_weather"
    assert "city" in function["parameters"]["required"]
    assert set(function["parameters"]["properties"]) == {"city", "days"}
    assert body["temperature"] == 0.1
    assert body["max_tokens"] == 100
    assert body["response_format"]["json_schema"]["name"] == "Person"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["age"] == {"title": "Age", "type": "integer"}
    assert body["chat_template_kwargs"]["enable_thinking"] is False
    assert sorted(call.ignored_options) == ["keep_alive", "num_ctx"]
    assert call.stream is False


def test_sdk_generate_and_embed() -> None:
    sent = captured("generate", model="llama3.1:8b", prompt="Why?", system="Be brief.", images=[PNG], stream=False)
    body = translate_generate(sent, "served").body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][1]["content"][-1] == {"type": "text", "text": "Why?"}
    embed = captured("embed", model="nomic-embed-text", input=["a", "b"])
    assert translate_embed(embed, "nomic", legacy=False).body["input"] == ["a", "b"]
