"""The Ollama simulator's model catalog: what ``/api/tags``, ``/api/show`` and ``/api/ps`` report.

A catalog is a YAML or JSON file ``{"models": [...]}`` (entries as in :class:`CatalogModel`) or models
added with ``--model NAME``.  The default is the seed guide's ``llama3.1:8b`` (Q4_K_M) with the real
GGUF header values, because the inventory and sizing code read ``model_info`` as they would from Ollama.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from o2v.errors import ConfigError

# GGUF ``general.file_type`` values for the usual quantizations (llama.cpp's LLAMA_FTYPE enum).
FILE_TYPES = {
    "F32": 0,
    "F16": 1,
    "Q4_0": 2,
    "Q4_1": 3,
    "Q8_0": 7,
    "Q5_0": 8,
    "Q5_1": 9,
    "Q2_K": 10,
    "Q3_K_M": 12,
    "Q4_K_S": 14,
    "Q4_K_M": 15,
    "Q5_K_S": 16,
    "Q5_K_M": 17,
    "Q6_K": 18,
    "BF16": 32,
}

LLAMA31_TEMPLATE = (
    "{{- if .Messages }}{{- range $i, $_ := .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{{- else }}{{ .Prompt }}{{ end }}"
)


class CatalogModel(BaseModel):
    """One Ollama model as the simulator advertises it."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, description="Ollama tag, e.g. llama3.1:8b")
    architecture: str = Field(
        default="llama", description="GGUF general.architecture (llama, qwen2, gemma2, phi3, ...)"
    )
    family: str | None = Field(default=None, description="details.family; defaults to the architecture")
    format: Literal["gguf", "safetensors"] = "gguf"
    parameter_size: str = "8.0B"
    parameter_count: int = Field(default=8_030_261_248, gt=0)
    quantization_level: str = "Q4_K_M"
    size_bytes: int = Field(default=4_920_753_328, gt=0)
    digest: str | None = Field(
        default=None, description="64 hex digits without 'sha256:'; derived from the name if absent"
    )
    context_length: int = Field(default=131_072, gt=0)
    block_count: int = Field(default=32, gt=0)
    embedding_length: int = Field(default=4096, gt=0)
    head_count: int = Field(default=32, gt=0)
    head_count_kv: int = Field(default=8, gt=0)
    key_length: int | None = Field(default=None, gt=0)
    vocab_size: int = Field(default=128_256, gt=0)
    feed_forward_length: int = Field(default=14_336, gt=0)
    capabilities: list[str] = Field(default_factory=lambda: ["completion", "tools"])
    modified_at: datetime = Field(default_factory=lambda: datetime(2025, 1, 15, 10, 0, tzinfo=UTC))
    template: str = LLAMA31_TEMPLATE
    license: str = "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT"
    parameters: str = 'stop                           "<|start_header_id|>"\nstop                           "<|end_header_id|>"\nstop                           "<|eot_id|>"'  # noqa: E501
    system: str = ""

    @field_validator("digest")
    @classmethod
    def _hex64(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.removeprefix("sha256:")
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise ValueError("must be 64 lowercase hex digits")
        return value

    @property
    def full_name(self) -> str:
        return self.name if ":" in self.name else f"{self.name}:latest"

    @property
    def hex_digest(self) -> str:
        return self.digest or hashlib.sha256(self.full_name.encode()).hexdigest()

    def details(self) -> dict[str, Any]:
        family = self.family or self.architecture
        return {
            "parent_model": "",
            "format": self.format,
            "family": family,
            "families": [family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def model_info(self) -> dict[str, Any]:
        a = self.architecture
        info: dict[str, Any] = {
            "general.architecture": a,
            "general.file_type": FILE_TYPES.get(self.quantization_level.upper(), 15),
            "general.parameter_count": self.parameter_count,
            "general.quantization_version": 2,
            f"{a}.attention.head_count": self.head_count,
            f"{a}.attention.head_count_kv": self.head_count_kv,
            f"{a}.attention.layer_norm_rms_epsilon": 1e-05,
            f"{a}.block_count": self.block_count,
            f"{a}.context_length": self.context_length,
            f"{a}.embedding_length": self.embedding_length,
            f"{a}.feed_forward_length": self.feed_forward_length,
            f"{a}.rope.freq_base": 500000,
            f"{a}.vocab_size": self.vocab_size,
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.pre": a,
            "tokenizer.ggml.tokens": None,
            "tokenizer.ggml.token_type": None,
            "tokenizer.ggml.merges": None,
        }
        if self.key_length:
            info[f"{a}.attention.key_length"] = self.key_length
            info[f"{a}.attention.value_length"] = self.key_length
        return info

    def kv_bytes_per_token(self) -> int:
        """f16 KV cache bytes per token: what Ollama adds to the weights in ``size_vram``."""
        head = self.key_length or self.embedding_length // self.head_count
        return 2 * self.block_count * self.head_count_kv * head * 2


class Catalog(BaseModel):
    model_config = {"extra": "forbid"}

    models: list[CatalogModel] = Field(min_length=1)

    def find(self, name: str) -> CatalogModel | None:
        wanted = name if ":" in name else f"{name}:latest"
        for model in self.models:
            if model.full_name == wanted:
                return model
        return None


def default_catalog() -> Catalog:
    return Catalog(models=[CatalogModel(name="llama3.1:8b")])


def load_catalog(path: str | Path | None, extra_names: list[str] | None = None) -> Catalog:
    """Read a catalog file (YAML or JSON) and add ``--model`` names; problems raise ConfigError (one line)."""
    if path is None:
        catalog = default_catalog() if not extra_names else Catalog(models=[CatalogModel(name=extra_names[0])])
        names = extra_names[1:] if extra_names else []
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                [f"catalog {p}: cannot be read ({exc.strerror}); give an existing YAML/JSON file"]
            ) from exc
        try:
            raw = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError([f"catalog {p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {first}"]) from exc
        if isinstance(raw, list):
            raw = {"models": raw}
        try:
            catalog = Catalog.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "top level"
            raise ConfigError(
                [
                    f"catalog {p}: {where}: {err['msg']} (expected {{models: [{{name: ..., ...}}]}}, "
                    f"{exc.error_count()} problem(s))"
                ]
            ) from exc
        names = extra_names or []
    for name in names:
        if catalog.find(name) is None:
            catalog.models.append(CatalogModel(name=name))
    return catalog
