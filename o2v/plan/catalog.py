"""Built-in map from Ollama tags to Hugging Face repositories, with the architecture facts sizing needs.

Why a catalog: Ollama serves GGUF files whose names (``llama3.1:8b``) say nothing about the safetensors
repository vLLM needs, and sizing must work without network access to Hugging Face. Each entry carries the
``config.json`` figures vLLM's own memory arithmetic reads (layers, KV heads, head size, hidden and MLP sizes,
vocabulary) and the parameter count. Quantized variants are official or widely used community repositories;
``gated`` marks repositories that need an accepted licence and an HF token.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from o2v.errors import ConfigError

Quantization = Literal["awq", "gptq", "fp8"]


class ArchFacts(BaseModel):
    """The subset of a Hugging Face ``config.json`` that decides memory use."""

    architecture: str = Field(
        default=..., description="HF class name from config.json 'architectures', e.g. LlamaForCausalLM."
    )
    num_layers: int = Field(..., ge=1)
    num_attention_heads: int = Field(..., ge=1)
    num_kv_heads: int = Field(..., ge=1)
    head_size: int = Field(..., ge=1)
    hidden_size: int = Field(..., ge=1)
    intermediate_size: int = Field(..., ge=1)
    vocab_size: int = Field(..., ge=1)
    params_b: float = Field(..., gt=0, description="Parameter count in billions.")
    max_position_embeddings: int = Field(..., ge=1, description="Longest context the model was trained for.")
    tie_word_embeddings: bool = False
    sliding_window_layers_note: str | None = None

    @property
    def embedding_params(self) -> int:
        copies = 1 if self.tie_word_embeddings else 2
        return copies * self.vocab_size * self.hidden_size


class CatalogEntry(BaseModel):
    """One model size: the Ollama names that mean it, the vLLM repository and its quantized variants."""

    family: str
    size: str
    ollama_names: list[str] = Field(default=..., description="Tags (without quantization suffix) that mean this model.")
    hf_repo: str
    gated: bool
    arch: ArchFacts
    variants: dict[Quantization, str] = Field(default_factory=dict, description="Quantized repositories by method.")


def _llama(
    layers: int,
    heads: int,
    kv: int,
    hidden: int,
    inter: int,
    params: float,
    ctx: int,
    head: int = 128,
    tied: bool = False,
    vocab: int = 128256,
) -> ArchFacts:
    return ArchFacts(
        architecture="LlamaForCausalLM",
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv,
        head_size=head,
        hidden_size=hidden,
        intermediate_size=inter,
        vocab_size=vocab,
        params_b=params,
        max_position_embeddings=ctx,
        tie_word_embeddings=tied,
    )


def _qwen2(
    layers: int,
    heads: int,
    kv: int,
    hidden: int,
    inter: int,
    params: float,
    vocab: int,
    tied: bool,
    ctx: int = 32768,
) -> ArchFacts:
    return ArchFacts(
        architecture="Qwen2ForCausalLM",
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv,
        head_size=hidden // heads,
        hidden_size=hidden,
        intermediate_size=inter,
        vocab_size=vocab,
        params_b=params,
        max_position_embeddings=ctx,
        tie_word_embeddings=tied,
    )


def _gemma2(layers: int, heads: int, kv: int, head: int, hidden: int, inter: int, params: float) -> ArchFacts:
    return ArchFacts(
        architecture="Gemma2ForCausalLM",
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv,
        head_size=head,
        hidden_size=hidden,
        intermediate_size=inter,
        vocab_size=256000,
        params_b=params,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        sliding_window_layers_note="every other layer uses a 4096-token sliding window",
    )


def _qwen_variants(size: str) -> dict[Quantization, str]:
    return {"awq": f"Qwen/Qwen2.5-{size}-Instruct-AWQ", "gptq": f"Qwen/Qwen2.5-{size}-Instruct-GPTQ-Int4"}


CATALOG: list[CatalogEntry] = [
    CatalogEntry(
        family="llama3.1",
        size="8b",
        ollama_names=["llama3.1", "llama3.1:8b", "llama3.1:8b-instruct"],
        hf_repo="meta-llama/Llama-3.1-8B-Instruct",
        gated=True,
        arch=_llama(32, 32, 8, 4096, 14336, 8.030, 131072),
        variants={
            "awq": "hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4",
            "gptq": "hugging-quants/Meta-Llama-3.1-8B-Instruct-GPTQ-INT4",
            "fp8": "neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8",
        },
    ),
    CatalogEntry(
        family="llama3.1",
        size="70b",
        ollama_names=["llama3.1:70b", "llama3.1:70b-instruct"],
        hf_repo="meta-llama/Llama-3.1-70B-Instruct",
        gated=True,
        arch=_llama(80, 64, 8, 8192, 28672, 70.554, 131072),
        variants={
            "awq": "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4",
            "gptq": "hugging-quants/Meta-Llama-3.1-70B-Instruct-GPTQ-INT4",
            "fp8": "neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8",
        },
    ),
    CatalogEntry(
        family="llama3",
        size="8b",
        ollama_names=["llama3", "llama3:8b", "llama3:8b-instruct"],
        hf_repo="meta-llama/Meta-Llama-3-8B-Instruct",
        gated=True,
        arch=_llama(32, 32, 8, 4096, 14336, 8.030, 8192),
    ),
    CatalogEntry(
        family="llama3.2",
        size="1b",
        ollama_names=["llama3.2:1b", "llama3.2:1b-instruct"],
        hf_repo="meta-llama/Llama-3.2-1B-Instruct",
        gated=True,
        arch=_llama(16, 32, 8, 2048, 8192, 1.236, 131072, head=64, tied=True),
    ),
    CatalogEntry(
        family="llama3.2",
        size="3b",
        ollama_names=["llama3.2", "llama3.2:3b", "llama3.2:3b-instruct"],
        hf_repo="meta-llama/Llama-3.2-3B-Instruct",
        gated=True,
        arch=_llama(28, 24, 8, 3072, 8192, 3.213, 131072, tied=True),
    ),
    CatalogEntry(
        family="llama3.3",
        size="70b",
        ollama_names=["llama3.3", "llama3.3:70b", "llama3.3:70b-instruct"],
        hf_repo="meta-llama/Llama-3.3-70B-Instruct",
        gated=True,
        arch=_llama(80, 64, 8, 8192, 28672, 70.554, 131072),
    ),
    CatalogEntry(
        family="mistral",
        size="7b",
        ollama_names=["mistral", "mistral:7b", "mistral:7b-instruct", "mistral:7b-instruct-v0.3"],
        hf_repo="mistralai/Mistral-7B-Instruct-v0.3",
        gated=True,
        arch=ArchFacts(
            architecture="MistralForCausalLM",
            num_layers=32,
            num_attention_heads=32,
            num_kv_heads=8,
            head_size=128,
            hidden_size=4096,
            intermediate_size=14336,
            vocab_size=32768,
            params_b=7.248,
            max_position_embeddings=32768,
        ),
    ),
    *[
        CatalogEntry(
            family="qwen2.5",
            size=size.lower(),
            ollama_names=[f"qwen2.5:{size.lower()}", f"qwen2.5:{size.lower()}-instruct"]
            + (["qwen2.5"] if size == "7B" else []),
            hf_repo=f"Qwen/Qwen2.5-{size}-Instruct",
            gated=False,
            arch=arch,
            variants=_qwen_variants(size),
        )
        for size, arch in [
            ("0.5B", _qwen2(24, 14, 2, 896, 4864, 0.494, 151936, True)),
            ("1.5B", _qwen2(28, 12, 2, 1536, 8960, 1.544, 151936, True)),
            ("3B", _qwen2(36, 16, 2, 2048, 11008, 3.086, 151936, True)),
            ("7B", _qwen2(28, 28, 4, 3584, 18944, 7.616, 152064, False)),
            ("14B", _qwen2(48, 40, 8, 5120, 13824, 14.770, 152064, False)),
            ("32B", _qwen2(64, 40, 8, 5120, 27648, 32.764, 152064, False)),
            ("72B", _qwen2(80, 64, 8, 8192, 29568, 72.706, 152064, False)),
        ]
    ],
    CatalogEntry(
        family="gemma2",
        size="2b",
        ollama_names=["gemma2:2b", "gemma2:2b-instruct"],
        hf_repo="google/gemma-2-2b-it",
        gated=True,
        arch=_gemma2(26, 8, 4, 256, 2304, 9216, 2.614),
    ),
    CatalogEntry(
        family="gemma2",
        size="9b",
        ollama_names=["gemma2", "gemma2:9b", "gemma2:9b-instruct"],
        hf_repo="google/gemma-2-9b-it",
        gated=True,
        arch=_gemma2(42, 16, 8, 256, 3584, 14336, 9.242),
    ),
    CatalogEntry(
        family="gemma2",
        size="27b",
        ollama_names=["gemma2:27b", "gemma2:27b-instruct"],
        hf_repo="google/gemma-2-27b-it",
        gated=True,
        arch=_gemma2(46, 32, 16, 128, 4608, 36864, 27.227),
    ),
    CatalogEntry(
        family="phi3",
        size="3.8b",
        ollama_names=["phi3", "phi3:mini", "phi3:3.8b", "phi3:3.8b-mini-4k-instruct"],
        hf_repo="microsoft/Phi-3-mini-4k-instruct",
        gated=False,
        arch=ArchFacts(
            architecture="Phi3ForCausalLM",
            num_layers=32,
            num_attention_heads=32,
            num_kv_heads=32,
            head_size=96,
            hidden_size=3072,
            intermediate_size=8192,
            vocab_size=32064,
            params_b=3.821,
            max_position_embeddings=4096,
        ),
    ),
    CatalogEntry(
        family="phi3",
        size="14b",
        ollama_names=["phi3:medium", "phi3:14b", "phi3:14b-medium-4k-instruct"],
        hf_repo="microsoft/Phi-3-medium-4k-instruct",
        gated=False,
        arch=ArchFacts(
            architecture="Phi3ForCausalLM",
            num_layers=40,
            num_attention_heads=40,
            num_kv_heads=10,
            head_size=128,
            hidden_size=5120,
            intermediate_size=17920,
            vocab_size=32064,
            params_b=13.960,
            max_position_embeddings=4096,
        ),
    ),
]

# Ollama tags carry a quantization suffix (":8b-instruct-q4_K_M", ":7b-instruct-fp16"): drop it before
# looking up.
_QUANT_SUFFIX = re.compile(r"-(q\d[\w]*|fp16|f16|bf16|fp32|int4|int8)$", re.IGNORECASE)


def normalise_tag(tag: str) -> str:
    """``library/llama3.1:8b-instruct-q4_K_M`` -> ``llama3.1:8b-instruct``; ``:latest`` is the bare name."""
    tag = tag.strip().lower()
    for prefix in ("registry.ollama.ai/library/", "library/"):
        if tag.startswith(prefix):
            tag = tag[len(prefix) :]
    name, _, variant = tag.partition(":")
    if variant in ("", "latest"):
        return name
    return f"{name}:{_QUANT_SUFFIX.sub('', variant)}"


def lookup(tag: str) -> CatalogEntry | None:
    """The catalog entry an Ollama tag means, or None."""
    wanted = normalise_tag(tag)
    for entry in CATALOG:
        if wanted in entry.ollama_names:
            return entry
    return None


def lookup_by_name(name: str) -> CatalogEntry | None:
    """Find an entry by Ollama tag or by Hugging Face repository (main or variant)."""
    found = lookup(name)
    if found is not None:
        return found
    for entry in CATALOG:
        if name.lower() in {entry.hf_repo.lower(), *(v.lower() for v in entry.variants.values())}:
            return entry
    return None


def candidates(tag: str, limit: int = 3) -> list[str]:
    """Repositories worth checking for an unknown tag: same family first, then same size."""
    wanted = normalise_tag(tag)
    name, _, variant = wanted.partition(":")
    family = re.sub(r"[\d.]+$", "", name)
    size = variant.split("-")[0] if variant else ""
    scored: list[tuple[int, str]] = []
    for entry in CATALOG:
        score = 0
        if entry.family == name:
            score += 4
        elif family and entry.family.startswith(family):
            score += 2
        if size and entry.size == size:
            score += 1
        if score:
            scored.append((score, entry.hf_repo))
    scored.sort(key=lambda item: -item[0])
    seen: list[str] = []
    for _, repo in scored:
        if repo not in seen:
            seen.append(repo)
    return seen[:limit]


def arch_from_config(path: Path) -> ArchFacts:
    """Read a Hugging Face ``config.json``; parameter count is estimated from the shapes when absent."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError([f"{path}: expected a readable Hugging Face config.json, got: {exc}"]) from exc
    data = data.get("text_config", data) if "num_hidden_layers" not in data else data
    problems = [
        f"{path}: missing '{key}'"
        for key in (
            "num_hidden_layers",
            "hidden_size",
            "num_attention_heads",
            "intermediate_size",
            "vocab_size",
        )
        if key not in data
    ]
    if problems:
        raise ConfigError(problems)
    raw_arch = data.get("architectures") or ["unknown"]
    heads = int(data["num_attention_heads"])
    hidden = int(data["hidden_size"])
    layers = int(data["num_hidden_layers"])
    inter = int(data["intermediate_size"])
    vocab = int(data["vocab_size"])
    kv = int(data.get("num_key_value_heads") or heads)
    head = int(data.get("head_dim") or hidden // heads)
    tied = bool(data.get("tie_word_embeddings", False))
    per_layer = hidden * (heads * head) * 2 + hidden * (kv * head) * 2 + 3 * hidden * inter
    params = layers * per_layer + (1 if tied else 2) * vocab * hidden
    return ArchFacts(
        architecture=str(raw_arch[0]),
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv,
        head_size=head,
        hidden_size=hidden,
        intermediate_size=inter,
        vocab_size=vocab,
        params_b=round(params / 1e9, 3),
        max_position_embeddings=int(data.get("max_position_embeddings", 4096)),
        tie_word_embeddings=tied,
    )
