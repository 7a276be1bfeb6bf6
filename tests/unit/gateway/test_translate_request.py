"""Native Ollama requests -> vLLM calls: options, format, think, stream, load/unload, generate and embed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from o2v.errors import O2VError, TranslationError
from o2v.gateway.translate import NativeCall, translate_chat, translate_embed, translate_generate
from o2v.gateway.translate_options import UNHONOURED_OPTIONS

SERVED = "meta-llama/Llama-3.1-8B-Instruct"
USER = [{"role": "user", "content": "hi"}]


def chat(**body: Any) -> NativeCall:
    return translate_chat({"model": "llama3.1:8b", "messages": USER, **body}, SERVED)


def test_error_is_part_of_the_hierarchy_with_a_status() -> None:
    assert issubclass(TranslationError, O2VError)
    assert TranslationError("x").status == 400
    assert TranslationError("x", status=404).status == 404


def test_chat_streams_by_default_and_asks_for_usage() -> None:
    call = chat()
    assert call.path == "/v1/chat/completions"
    assert call.stream is True
    assert call.reply is None
    assert call.body == {
        "model": SERVED,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert call.ignored_options == []


def test_chat_without_stream_sends_no_stream_options() -> None:
    call = chat(stream=False)
    assert call.stream is False
    assert call.body["stream"] is False
    assert "stream_options" not in call.body  # vLLM answers 400 to stream_options with stream=false


@pytest.mark.parametrize(
    ("option", "value", "field", "expected"),
    [
        ("num_predict", 128, "max_tokens", 128),
        ("num_predict", 64.0, "max_tokens", 64),
        ("temperature", 0.2, "temperature", 0.2),
        ("temperature", 0, "temperature", 0.0),
        ("top_p", 0.9, "top_p", 0.9),
        ("top_k", 40, "top_k", 40),
        ("top_k", 0, "top_k", -1),
        ("min_p", 0.05, "min_p", 0.05),
        ("seed", 42, "seed", 42),
        ("seed", 0, "seed", 0),
        ("stop", ["\n\n", "User:"], "stop", ["\n\n", "User:"]),
        ("repeat_penalty", 1.1, "repetition_penalty", 1.1),
        ("presence_penalty", 0.5, "presence_penalty", 0.5),
        ("frequency_penalty", 0.25, "frequency_penalty", 0.25),
    ],
)
def test_each_option_maps_to_its_vllm_field(option: str, value: Any, field: str, expected: Any) -> None:
    call = chat(options={option: value})
    assert call.body[field] == expected
    assert option not in call.body or option == field
    assert call.ignored_options == []


@pytest.mark.parametrize(("option", "value"), [("num_predict", -1), ("num_predict", -2), ("num_predict", 0)])
def test_unlimited_num_predict_leaves_max_tokens_to_vllm(option: str, value: int) -> None:
    assert "max_tokens" not in chat(options={option: value}).body


def test_random_seed_is_left_out() -> None:
    assert "seed" not in chat(options={"seed": -1}).body  # Ollama's -1 = random; vLLM's -1 = a fixed seed


def test_null_options_are_skipped() -> None:
    call = chat(options={"temperature": None, "num_ctx": None})
    assert "temperature" not in call.body
    assert call.ignored_options == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_predict": "ten"}, 'option "num_predict" must be of type integer'),
        ({"top_k": True}, 'option "top_k" must be of type integer'),
        ({"temperature": "hot"}, 'option "temperature" must be of type float32'),
        ({"stop": "\n"}, 'option "stop" must be of type array'),
        ({"stop": ["a", 1]}, 'option "stop" must be of an array of strings'),
    ],
)
def test_option_of_the_wrong_type_is_refused_with_ollamas_words(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TranslationError, match=re.escape(message)):
        chat(options=options)


def test_options_must_be_an_object() -> None:
    with pytest.raises(TranslationError, match="options"):
        chat(options=["temperature"])


def test_options_vllm_cannot_honour_are_accepted_and_listed() -> None:
    options = {
        "num_ctx": 8192,
        "num_gpu": 99,
        "num_thread": 8,
        "num_batch": 512,
        "mirostat": 2,
        "mirostat_tau": 5.0,
        "typical_p": 0.9,
        "repeat_last_n": 64,
        "num_keep": 4,
        "made_up_option": 1,
        "temperature": 0.5,
    }
    call = chat(options=options, keep_alive="10m", shift=True, truncate=True)
    assert call.body["temperature"] == 0.5
    for name in options:
        assert name == "temperature" or name not in call.body
    assert sorted(call.ignored_options) == sorted(
        [k for k in options if k != "temperature"] + ["keep_alive", "shift", "truncate"]
    )


def test_truncate_false_is_what_vllm_does_anyway() -> None:
    assert chat(truncate=False).ignored_options == []


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("json", {"type": "json_object"}),
        (
            {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]},
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "ollama_format",
                    "schema": {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]},
                },
            },
        ),
        (
            {"title": "Person", "type": "object"},
            {"type": "json_schema", "json_schema": {"name": "Person", "schema": {"title": "Person", "type": "object"}}},
        ),
    ],
)
def test_format_becomes_response_format(fmt: Any, expected: dict[str, Any]) -> None:
    assert chat(format=fmt).body["response_format"] == expected


def test_empty_format_means_none() -> None:
    assert "response_format" not in chat(format="").body
    assert "response_format" not in chat(format=None).body


def test_unknown_format_is_refused() -> None:
    with pytest.raises(TranslationError, match='expected "json" or a valid JSON schema'):
        chat(format="yaml")


@pytest.mark.parametrize(
    ("think", "kwargs", "effort"),
    [
        (True, {"enable_thinking": True, "thinking": True}, None),
        (False, {"enable_thinking": False, "thinking": False}, None),
        ("low", {"enable_thinking": True, "thinking": True}, "low"),
        ("high", {"enable_thinking": True, "thinking": True}, "high"),
        ("max", {"enable_thinking": True, "thinking": True}, "high"),
    ],
)
def test_think_becomes_template_kwargs_and_effort(think: Any, kwargs: dict[str, bool], effort: str | None) -> None:
    body = chat(think=think).body
    assert body["chat_template_kwargs"] == kwargs
    assert body.get("reasoning_effort") == effort


def test_think_unset_leaves_the_model_default() -> None:
    body = chat().body
    assert "chat_template_kwargs" not in body
    assert "reasoning_effort" not in body


def test_invalid_think_is_refused() -> None:
    with pytest.raises(TranslationError, match="invalid think value"):
        chat(think="extreme")


def test_logprobs_are_forwarded_and_bounded() -> None:
    body = chat(logprobs=True, top_logprobs=3).body
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 3
    assert "logprobs" not in chat(logprobs=False).body
    with pytest.raises(TranslationError, match="top_logprobs must be between 0 and 20"):
        chat(logprobs=True, top_logprobs=21)


@pytest.mark.parametrize("body", [[], "hello", 3])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(TranslationError, match="cannot unmarshal"):
        translate_chat(body, SERVED)


def test_stream_must_be_a_boolean() -> None:
    with pytest.raises(TranslationError, match="stream"):
        chat(stream="yes")


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


@pytest.mark.parametrize("messages", [None, []])
def test_chat_without_messages_is_a_load_answered_at_once(messages: Any) -> None:
    call = translate_chat({"model": "llama3.1:8b", "messages": messages}, SERVED)
    assert call.reply is not None
    assert call.reply["model"] == "llama3.1:8b"
    assert RFC3339.match(call.reply["created_at"])
    assert call.reply["message"] == {"role": "assistant", "content": ""}
    assert call.reply["done"] is True
    assert call.reply["done_reason"] == "load"


@pytest.mark.parametrize("keep_alive", [0, "0", "0s"])
def test_keep_alive_zero_without_messages_is_an_unload_and_counted(keep_alive: Any) -> None:
    call = translate_chat({"model": "m", "messages": [], "keep_alive": keep_alive}, SERVED)
    assert call.reply is not None
    assert call.reply["done_reason"] == "unload"
    assert call.ignored_options == ["keep_alive"]


# -- /api/generate ---------------------------------------------------------------------------------------------


def generate(**body: Any) -> NativeCall:
    return translate_generate({"model": "llama3.1:8b", **body}, SERVED)


def test_generate_becomes_chat_with_system_and_user() -> None:
    call = generate(prompt="Why is the sky blue?", system="Be brief.", options={"num_predict": 20}, stream=False)
    assert call.path == "/v1/chat/completions"
    assert call.body == {
        "model": SERVED,
        "stream": False,
        "max_tokens": 20,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Why is the sky blue?"},
        ],
    }


def test_generate_without_system_sends_the_user_turn_only() -> None:
    assert generate(prompt="hi").body["messages"] == [{"role": "user", "content": "hi"}]


def test_raw_generate_goes_to_completions_with_the_prompt_as_is() -> None:
    prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
    call = generate(prompt=prompt, raw=True, format="json", options={"stop": ["<|eot_id|>"]})
    assert call.path == "/v1/completions"
    assert call.body["prompt"] == prompt
    assert "messages" not in call.body
    assert call.body["stop"] == ["<|eot_id|>"]
    assert call.body["response_format"] == {"type": "json_object"}
    assert call.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("options", "max_tokens"), [(None, None), ({"num_predict": -1}, None), ({"num_predict": 9}, 9)]
)
def test_raw_generate_always_sets_max_tokens(options: dict[str, int] | None, max_tokens: int | None) -> None:
    # vLLM's CompletionRequest defaults max_tokens to 16; Ollama's default is "until a stop".
    body = generate(prompt="x", raw=True, options=options).body
    assert "max_tokens" in body
    assert body["max_tokens"] == max_tokens


def test_raw_generate_counts_think_and_takes_logprobs_as_a_count() -> None:
    call = generate(prompt="x", raw=True, think=True, logprobs=True, top_logprobs=2)
    assert "think" in call.ignored_options
    assert "chat_template_kwargs" not in call.body
    assert call.body["logprobs"] == 2


def test_generate_with_think_and_format() -> None:
    body = generate(prompt="x", think=False, format={"type": "object"}).body
    assert body["chat_template_kwargs"]["enable_thinking"] is False
    assert body["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "def f(", "suffix": "return x"}, "suffix is not currently supported"),
        ({"prompt": "x", "raw": True, "system": "s"}, "raw mode does not support template, system, or context"),
        ({"prompt": "x", "raw": True, "template": "{{ .Prompt }}"}, "raw mode does not support"),
        ({"prompt": "x", "context": [1, 2, 3]}, "context"),
        ({"prompt": "x", "template": "{{ .Prompt }}"}, "Ollama Go template"),
        ({"prompt": 7}, "cannot unmarshal"),
    ],
)
def test_generate_refuses_what_vllm_cannot_do(body: dict[str, Any], message: str) -> None:
    with pytest.raises(TranslationError, match=re.escape(message)):
        generate(**body)


def test_empty_context_is_no_context() -> None:
    assert generate(prompt="x", context=[]).reply is None


def test_generate_with_an_empty_prompt_is_a_load() -> None:
    call = generate(prompt="")
    assert call.reply is not None
    assert call.reply["response"] == ""
    assert call.reply["done_reason"] == "load"
    assert "message" not in call.reply
    unload = generate(keep_alive=0)
    assert unload.reply is not None
    assert unload.reply["done_reason"] == "unload"


# -- /api/embed and /api/embeddings ----------------------------------------------------------------------------


def test_embed_with_one_text_and_a_list() -> None:
    one = translate_embed({"model": "nomic-embed-text", "input": "hello"}, "nomic", legacy=False)
    assert one.path == "/v1/embeddings"
    assert one.stream is False
    assert one.body == {"model": "nomic", "input": ["hello"], "encoding_format": "float", "truncate_prompt_tokens": -1}
    many = translate_embed({"model": "e", "input": ["a", "b"], "dimensions": 256}, "e", legacy=False)
    assert many.body["input"] == ["a", "b"]
    assert many.body["dimensions"] == 256


def test_embed_without_truncation_lets_vllm_refuse_long_input() -> None:
    call = translate_embed({"model": "e", "input": "a", "truncate": False}, "e", legacy=False)
    assert "truncate_prompt_tokens" not in call.body


@pytest.mark.parametrize("value", ["", [], None])
def test_embed_of_nothing_is_answered_at_once(value: Any) -> None:
    call = translate_embed({"model": "e", "input": value}, "e", legacy=False)
    assert call.reply == {"model": "e", "embeddings": []}


@pytest.mark.parametrize("value", [3, ["a", 2], {"text": "a"}])
def test_embed_of_a_wrong_type_is_refused(value: Any) -> None:
    with pytest.raises(TranslationError, match="invalid input type"):
        translate_embed({"model": "e", "input": value}, "e", legacy=False)


def test_legacy_embeddings_take_a_prompt() -> None:
    call = translate_embed({"model": "e", "prompt": "hello"}, "e-served", legacy=True)
    assert call.body == {"model": "e-served", "input": ["hello"], "encoding_format": "float"}
    empty = translate_embed({"model": "e", "prompt": ""}, "e", legacy=True)
    assert empty.reply == {"embedding": []}


def test_embed_options_and_keep_alive_are_counted() -> None:
    body = {"model": "e", "input": "a", "options": {"num_ctx": 2048, "temperature": 0}, "keep_alive": "1h"}
    call = translate_embed(body, "e", legacy=False)
    assert sorted(call.ignored_options) == ["keep_alive", "num_ctx", "temperature"]
    assert "num_ctx" not in call.body


@pytest.mark.parametrize("option", sorted(UNHONOURED_OPTIONS))
def test_every_unhonoured_option_is_listed_and_not_sent(option: str) -> None:
    call = chat(options={option: 1})
    assert call.ignored_options == [option]
    assert option not in call.body
