"""Chat messages, images and tools from Ollama's shape to OpenAI's, as vLLM reads them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from o2v.errors import TranslationError
from o2v.gateway.translate import translate_chat, translate_generate
from o2v.gateway.translate_messages import image_mime

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(20)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(20)
GIF = b"GIF89a" + bytes(20)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def messages(*msgs: dict[str, Any], **body: Any) -> list[dict[str, Any]]:
    call = translate_chat({"model": "m", "messages": list(msgs), **body}, "served")
    return call.body["messages"]


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (GIF, "image/gif"),
        (b"BM" + bytes(20), "image/bmp"),
    ],
)
def test_image_type_from_magic_bytes(data: bytes, mime: str) -> None:
    assert image_mime(data) == mime


def test_unknown_bytes_have_no_type() -> None:
    assert image_mime(b"%PDF-1.7 ....") is None
    assert image_mime(b"RIFF\x00\x00\x00\x00WAVE") is None


def test_images_become_data_url_parts_before_the_text() -> None:
    out = messages({"role": "user", "content": "what is this?", "images": [b64(PNG), b64(JPEG)]})
    assert out == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG)}"}},
                {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{b64(JPEG)}"}},
                {"type": "text", "text": "what is this?"},
            ],
        }
    ]


def test_an_image_without_text_is_one_part() -> None:
    out = messages({"role": "user", "content": "", "images": [b64(WEBP)]})
    assert out[0]["content"] == [{"type": "image_url", "image_url": {"url": f"data:image/webp;base64,{b64(WEBP)}"}}]


def test_a_data_url_sent_as_an_image_is_accepted() -> None:
    out = messages({"role": "user", "content": "x", "images": [f"data:image/gif;base64,{b64(GIF)}"]})
    assert out[0]["content"][0]["image_url"]["url"] == f"data:image/gif;base64,{b64(GIF)}"


def test_images_in_generate_go_with_the_user_turn() -> None:
    call = translate_generate({"model": "m", "prompt": "describe", "images": [b64(PNG)]}, "served")
    content = call.body["messages"][-1]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert content[1] == {"type": "text", "text": "describe"}


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("not base64 at all!", "not valid base64"),
        (b64(b"%PDF-1.7 not an image"), "not PNG, JPEG, WebP, GIF, BMP or TIFF"),
        (42, "must be a base64 string"),
    ],
)
def test_bad_images_are_refused(image: Any, message: str) -> None:
    with pytest.raises(TranslationError, match=message):
        messages({"role": "user", "content": "x", "images": [image]})


def test_images_must_be_a_list() -> None:
    with pytest.raises(TranslationError, match="images must be a list"):
        messages({"role": "user", "content": "x", "images": b64(PNG)})


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


def test_tools_keep_their_json_schema() -> None:
    body = translate_chat(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL]}, "s"
    ).body
    assert body["tools"] == [WEATHER_TOOL]
    assert "tool_choice" not in body  # vLLM picks "auto" when tools are given


def test_a_tool_without_type_or_parameters_is_completed() -> None:
    body = translate_chat(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"function": {"name": "now"}}]}, "s"
    ).body
    assert body["tools"] == [
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    ]


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ([{"type": "function", "function": {"description": "no name"}}], "needs a function with a name"),
        ([{"type": "retrieval", "function": {"name": "x"}}], "only takes function tools"),
        ({"function": {"name": "x"}}, "must be a list"),
    ],
)
def test_bad_tools_are_refused(tools: Any, message: str) -> None:
    with pytest.raises(TranslationError, match=message):
        translate_chat({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools}, "s")


def conversation(*, with_ids: bool, tool_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls = [
        {"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}},
        {"function": {"index": 1, "name": "get_weather", "arguments": {"city": "Oslo"}}},
        {"function": {"index": 2, "name": "get_time", "arguments": {"tz": "CET", "precise": True}}},
    ]
    if with_ids:
        for n, call in enumerate(calls):
            call["id"] = f"call_{n}"
    return messages(
        {"role": "user", "content": "weather in Paris and Oslo, and the time?"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        *tool_results,
    )


def test_assistant_tool_calls_get_string_arguments() -> None:
    out = conversation(with_ids=True, tool_results=[])
    assert out[1]["tool_calls"] == [
        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"tz": "CET", "precise": true}'},
        },
    ]
    assert json.loads(out[1]["tool_calls"][2]["function"]["arguments"]) == {"tz": "CET", "precise": True}


def test_calls_without_ids_get_stable_nine_character_ids() -> None:
    first = conversation(with_ids=False, tool_results=[])[1]["tool_calls"]
    again = conversation(with_ids=False, tool_results=[])[1]["tool_calls"]
    ids = [call["id"] for call in first]
    assert ids == [call["id"] for call in again]
    assert len(set(ids)) == 3
    assert all(len(i) == 9 and i.isalnum() for i in ids)  # what Mistral's chat template insists on


def test_tool_results_by_name_answer_the_open_calls_in_order() -> None:
    results = [
        {"role": "tool", "content": "22C", "tool_name": "get_weather"},
        {"role": "tool", "content": "12:00", "tool_name": "get_time"},
        {"role": "tool", "content": "3C", "tool_name": "get_weather"},
    ]
    out = conversation(with_ids=True, tool_results=results)
    assert [(m["tool_call_id"], m["name"], m["content"]) for m in out[2:]] == [
        ("call_0", "get_weather", "22C"),
        ("call_2", "get_time", "12:00"),
        ("call_1", "get_weather", "3C"),
    ]


def test_tool_results_with_their_own_ids_keep_them() -> None:
    results = [
        {"role": "tool", "content": "12:00", "tool_call_id": "call_2"},
        {"role": "tool", "content": "22C", "tool_name": "get_weather"},
    ]
    out = conversation(with_ids=True, tool_results=results)
    assert [m["tool_call_id"] for m in out[2:]] == ["call_2", "call_0"]


def test_tool_results_without_name_take_the_next_open_call() -> None:
    results = [{"role": "tool", "content": "a"}, {"role": "tool", "content": "b"}]
    out = conversation(with_ids=False, tool_results=results)
    ids = [call["id"] for call in out[1]["tool_calls"]]
    assert [m["tool_call_id"] for m in out[2:]] == ids[:2]


def test_a_tool_result_with_no_call_to_answer_keeps_its_name_only() -> None:
    out = messages({"role": "tool", "content": "42", "tool_name": "answer"})
    assert out == [{"role": "tool", "content": "42", "name": "answer"}]


def test_tool_call_arguments_must_be_an_object() -> None:
    with pytest.raises(TranslationError, match="arguments must be a JSON object"):
        messages({"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": "x=1"}}]})
    with pytest.raises(TranslationError, match="needs function.name"):
        messages({"role": "assistant", "content": "", "tool_calls": [{"function": {"arguments": {}}}]})


def test_roles_are_lower_cased_and_thinking_is_kept_as_reasoning() -> None:
    out = messages(
        {"role": "SYSTEM", "content": "s"},
        {"role": "User", "content": "u"},
        {"role": "assistant", "content": "a", "thinking": "hmm"},
    )
    assert out == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a", "reasoning": "hmm"},
    ]


@pytest.mark.parametrize(
    ("msgs", "message"),
    [
        ("hello", "ChatRequest.messages"),
        ([{"role": "user", "content": "x"}, "y"], "ChatRequest.messages"),
        ([{"content": "x"}], "role is required"),
        ([{"role": "user", "content": ["part"]}], "content must be a string"),
    ],
)
def test_malformed_messages_are_refused(msgs: Any, message: str) -> None:
    with pytest.raises(TranslationError, match=message):
        translate_chat({"model": "m", "messages": msgs}, "s")


def test_null_content_is_empty_text() -> None:
    assert messages({"role": "user", "content": None}) == [{"role": "user", "content": ""}]
