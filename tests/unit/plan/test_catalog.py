from __future__ import annotations

import pytest

from o2v.plan import CATALOG, candidates, is_supported, lookup
from o2v.plan.catalog import normalise_tag
from o2v.plan.registry import hf_architecture_for_gguf


@pytest.mark.parametrize(
    ("tag", "repo"),
    [
        ("llama3.1:8b-instruct-q4_K_M", "meta-llama/Llama-3.1-8B-Instruct"),
        ("llama3.1:latest", "meta-llama/Llama-3.1-8B-Instruct"),
        ("qwen2.5:7b", "Qwen/Qwen2.5-7B-Instruct"),
        ("qwen2.5:72b-instruct-q4_0", "Qwen/Qwen2.5-72B-Instruct"),
        ("mistral:7b-instruct-v0.3-fp16", "mistralai/Mistral-7B-Instruct-v0.3"),
        ("mistral", "mistralai/Mistral-7B-Instruct-v0.3"),
        ("gemma2:27b", "google/gemma-2-27b-it"),
        ("phi3:medium", "microsoft/Phi-3-medium-4k-instruct"),
        ("library/llama3.2:1b", "meta-llama/Llama-3.2-1B-Instruct"),
    ],
)
def test_tags_map_to_repositories(tag: str, repo: str | None) -> None:
    entry = lookup(tag)
    assert (entry.hf_repo if entry else None) == repo


def test_every_catalog_architecture_is_supported_by_vllm() -> None:
    for entry in CATALOG:
        assert is_supported(entry.arch.architecture), entry.hf_repo
        assert entry.arch.hidden_size % entry.arch.num_attention_heads == 0 or entry.arch.head_size


def test_unknown_tag_gets_candidates() -> None:
    assert lookup("llama3.1:405b") is None
    found = candidates("llama3.1:405b")
    assert [r.split("/")[1][:9] for r in found[:2]] == ["Llama-3.1", "Llama-3.1"]
    assert normalise_tag("Llama3.1:8B-Instruct-Q4_K_M") == "llama3.1:8b-instruct"


def test_gguf_architecture_mapping() -> None:
    assert hf_architecture_for_gguf("qwen2") == "Qwen2ForCausalLM"
    assert hf_architecture_for_gguf("bert") is None
    assert not is_supported("T5ForConditionalGeneration")
