"""Whole vLLM answers, embeddings, model listings and error bodies in Ollama's (and OpenAI's) shapes."""

from __future__ import annotations

import math
import re
from typing import Any

import ollama
import pytest

from o2v.errors import TranslationError
from o2v.gateway.translate import (
    native_embed_reply,
    native_ps,
    native_reply,
    native_show,
    native_tags,
    native_version,
    ollama_error,
    openai_error,
)
from o2v.gateway.translate_meta import rfc3339_nano
from o2v.inventory.types import OllamaModel
from o2v.servers.ollama_types import ChatResponse, GenerateResponse, RunningList, ShowResponse, TagList
from o2v.simulate.openai_fmt import OpenAIStream, OpenAIStyle, parse_request

MODEL = "llama3.1:8b"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def simulated_whole(text: str, reason: str, tokens: int, *, chat: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "served", "stream": False}
    body.update({"messages": [{"role": "user", "content": "hi"}]} if chat else {"prompt": "hi"})
    return OpenAIStream(OpenAIStyle("vllm"), parse_request(body, chat=chat), "served").whole(text, reason, tokens)


def test_whole_chat_reply_from_the_vllm_simulator() -> None:
    vllm = simulated_whole("Hello there.", "stop", 3, chat=True)
    reply = native_reply("chat", vllm, MODEL, elapsed_ns=250_000_000)
    assert list(reply) == [
        "model",
        "created_at",
        "message",
        "done",
        "done_reason",
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "eval_count",
        "eval_duration",
    ]
    assert reply["message"] == {"role": "assistant", "content": "Hello there."}  # null reasoning, [] tool calls
    assert RFC3339.match(reply["created_at"])
    assert reply["done"] is True
    assert reply["done_reason"] == "stop"
    assert reply["prompt_eval_count"] == vllm["usage"]["prompt_tokens"]
    assert reply["eval_count"] == 3
    assert reply["total_duration"] == reply["eval_duration"] == 250_000_000  # no TTFT known: not invented
    parsed = ChatResponse.model_validate(reply)
    assert parsed.total_duration_ns == 250_000_000


def test_whole_generate_reply_from_completions() -> None:
    vllm = simulated_whole("Blue light scatters.", "length", 4, chat=False)
    reply = native_reply("generate", vllm, MODEL, elapsed_ns=10)
    assert reply["response"] == "Blue light scatters."
    assert reply["done_reason"] == "length"
    assert "context" not in reply
    assert GenerateResponse.model_validate(reply).eval_count == 4


def test_whole_reply_with_vllm_timing_splits_the_durations() -> None:
    vllm = simulated_whole("x", "stop", 1, chat=True)
    vllm["metrics"] = {"time_to_first_token_ms": 40.0, "generation_time_ms": 60.0}
    reply = native_reply("chat", vllm, MODEL, elapsed_ns=100_000_000)
    assert reply["prompt_eval_duration"] == 40_000_000
    assert reply["eval_duration"] == 60_000_000
    assert reply["total_duration"] == 100_000_000


def test_whole_reply_with_reasoning_and_tool_calls() -> None:
    vllm = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "reasoning": "Need the weather.",
                    "tool_calls": [
                        {
                            "id": "chatcmpl-tool-1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
    }
    reply = native_reply("chat", vllm, MODEL, elapsed_ns=1)
    assert reply["message"] == {
        "role": "assistant",
        "content": "",
        "thinking": "Need the weather.",
        "tool_calls": [
            {"id": "chatcmpl-tool-1", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Oslo"}}}
        ],
    }
    assert reply["done_reason"] == "stop"
    sdk = ollama.ChatResponse.model_validate(reply)
    assert sdk.message.tool_calls is not None
    assert sdk.message.tool_calls[0].function.arguments == {"city": "Oslo"}
    gen = native_reply("generate", vllm, MODEL, elapsed_ns=1)
    assert gen["thinking"] == "Need the weather."
    assert list(gen)[-1] == "tool_calls"


def test_whole_reply_with_bad_tool_arguments_is_an_error() -> None:
    vllm = {
        "choices": [
            {
                "message": {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]},
                "finish_reason": "tool_calls",
            }
        ]
    }
    with pytest.raises(TranslationError, match="not a JSON object") as caught:
        native_reply("chat", vllm, MODEL, elapsed_ns=1)
    assert caught.value.status == 502  # vLLM's fault, not the client's


def test_embed_reply_is_normalised_like_ollamas() -> None:
    vllm = {
        "object": "list",
        "model": "served",
        "data": [
            {"object": "embedding", "index": 1, "embedding": [0.0, 2.0]},
            {"object": "embedding", "index": 0, "embedding": [3.0, 4.0]},
        ],
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }
    reply = native_embed_reply(vllm, "nomic-embed-text", legacy=False, elapsed_ns=5_000)
    assert reply == {
        "model": "nomic-embed-text",
        "embeddings": [[0.6, 0.8], [0.0, 1.0]],
        "total_duration": 5_000,
        "load_duration": 0,
        "prompt_eval_count": 7,
    }
    for vector in reply["embeddings"]:
        assert math.isclose(math.fsum(v * v for v in vector), 1.0)
    assert ollama.EmbedResponse.model_validate(reply).embeddings == [[0.6, 0.8], [0.0, 1.0]]


def test_legacy_embeddings_reply_has_one_vector() -> None:
    vllm = {"data": [{"index": 0, "embedding": [0.25, -0.5]}], "usage": {"prompt_tokens": 2}}
    assert native_embed_reply(vllm, "e", legacy=True) == {"embedding": [0.25, -0.5]}
    assert native_embed_reply({"data": []}, "e", legacy=True) == {"embedding": []}


INVENTORY = [
    OllamaModel(
        name="llama3.1:8b",
        digest="a" * 64,
        size_bytes=4_920_753_328,
        format="gguf",
        family="llama",
        parameter_size="8.0B",
        quantization_level="Q4_K_M",
        capabilities=["completion", "tools"],
        architecture="llama",
        parameter_count=8_030_261_248,
        context_length=131_072,
        block_count=32,
        embedding_length=4096,
        head_count=32,
        head_count_kv=8,
        vocab_size=128_256,
    ).model_dump(),
    OllamaModel(name="nomic-embed-text:latest", family="nomic-bert", capabilities=["embedding"]).model_dump(),
]
CARDS = [
    {
        "id": "llama3.1:8b",
        "object": "model",
        "created": 1_736_935_200,
        "owned_by": "vllm",
        "root": "meta-llama/Llama-3.1-8B-Instruct",
        "parent": None,
        "max_model_len": 16_384,
    },
    {"id": "nomic-embed-text", "object": "model", "created": 1_736_935_200, "owned_by": "vllm", "max_model_len": 8192},
    {"id": "Qwen/Qwen3-8B", "object": "model", "created": 1_736_935_200, "owned_by": "vllm", "max_model_len": 32_768},
]


def test_tags_join_vllm_models_with_the_inventory() -> None:
    tags = native_tags(CARDS, INVENTORY, aliases={"Qwen/Qwen3-8B": "qwen3:8b"})
    first = tags["models"][0]
    assert first == {
        "name": "llama3.1:8b",
        "model": "llama3.1:8b",
        "modified_at": "2025-01-15T10:00:00Z",
        "size": 4_920_753_328,
        "digest": "a" * 64,
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "8.0B",
            "quantization_level": "Q4_K_M",
        },
        "capabilities": ["completion", "tools"],
    }
    names = [m["name"] for m in tags["models"]]
    assert names == ["llama3.1:8b", "nomic-embed-text", "qwen3:8b"]  # listed under the tag clients send
    assert tags["models"][1]["capabilities"] == ["embedding"]  # "nomic-embed-text" found as ":latest"
    unknown = tags["models"][2]
    assert unknown["size"] == 0
    assert unknown["details"]["family"] == ""
    assert [m.name for m in TagList.model_validate(tags).models] == names
    assert len(ollama.ListResponse.model_validate(tags).models) == 3


def test_ps_lists_every_vllm_model_loaded_for_good() -> None:
    assert native_ps(CARDS[2:], [], aliases={"Qwen/Qwen3-8B": "qwen3:8b"})["models"][0]["name"] == "qwen3:8b"
    ps = native_ps(CARDS[:1], INVENTORY)
    entry = ps["models"][0]
    assert list(entry) == ["name", "model", "size", "digest", "details", "expires_at", "size_vram", "context_length"]
    assert entry["context_length"] == 16_384
    assert entry["expires_at"] == "2318-08-01T00:00:00Z"
    running = RunningList.model_validate(ps).models[0]
    assert running.context_length == 16_384
    assert ollama.ProcessResponse.model_validate(ps).models[0].name == "llama3.1:8b"


def test_show_reports_the_context_vllm_serves() -> None:
    show = native_show("llama3.1:8b", CARDS[0], INVENTORY[0])
    parsed = ShowResponse.model_validate(show)
    assert parsed.architecture == "llama"
    assert parsed.context_length == 16_384  # vLLM's max_model_len, not the trained 131072
    assert parsed.parameter_count == 8_030_261_248
    assert parsed.arch_value("attention.head_count_kv") == 8
    assert parsed.capabilities == ["completion", "tools"]
    assert parsed.details.quantization_level == "Q4_K_M"
    assert "FROM meta-llama/Llama-3.1-8B-Instruct" in (parsed.modelfile or "")
    assert show["parameters"] == "num_ctx                        16384"
    assert "template" not in show  # vLLM's Jinja chat template is not an Ollama Go template
    assert ollama.ShowResponse.model_validate(show).modelinfo is not None


def test_show_of_a_model_only_vllm_knows() -> None:
    show = native_show("Qwen/Qwen3-8B", CARDS[2], None)
    assert show["model_info"] == {"general.architecture": "unknown", "unknown.context_length": 32_768}
    assert show["capabilities"] == ["completion"]
    assert ShowResponse.model_validate(show).context_length == 32_768


def test_show_of_an_unknown_model_is_ollamas_404() -> None:
    with pytest.raises(TranslationError, match="model 'nope' not found") as caught:
        native_show("nope", None, None)
    assert caught.value.status == 404


def test_version_and_error_bodies() -> None:
    assert native_version() == {"version": "0.32.15"}
    assert native_version("0.12.3") == {"version": "0.12.3"}
    assert ollama_error("model 'x' not found") == {"error": "model 'x' not found"}
    assert openai_error("The model `x` does not exist.", "NotFoundError", code=404) == {
        "error": {"message": "The model `x` does not exist.", "type": "NotFoundError", "param": None, "code": 404}
    }


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1_736_935_200_000_000_001, "2025-01-15T10:00:00.000000001Z"),
        (1_736_935_200_120_000_000, "2025-01-15T10:00:00.12Z"),
    ],
)
def test_rfc3339_nano_is_gos_format(ns: int, text: str) -> None:
    assert rfc3339_nano(ns) == text
