"""Models from a running Ollama: ``/api/tags`` for what is installed, ``/api/show`` for its GGUF facts,
``/api/ps`` for what is loaded now (and how much VRAM it holds)."""

from __future__ import annotations

from typing import Any

import httpx

from o2v.errors import ServerError
from o2v.inventory.types import LoadedModel, OllamaModel
from o2v.servers.ollama_client import OllamaClient


def _num_ctx(parameters: str | None) -> int | None:
    for line in (parameters or "").splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "num_ctx":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def _info_int(info: dict[str, Any], key: str) -> int | None:
    value = info.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, list):  # per-layer arrays in some GGUFs: take the first
        value = value[0] if value else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def collect_models(
    base_url: str, *, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None
) -> tuple[str | None, list[OllamaModel], list[LoadedModel], list[str]]:
    """(version, installed models, loaded models, problems). Unreachable Ollama raises ServerUnreachable."""
    problems: list[str] = []
    with OllamaClient(base_url, timeout_s=timeout_s, transport=transport) as client:
        try:
            version: str | None = client.version()
        except ServerError as exc:
            version = None
            problems.append(f"/api/version: {exc}")
        models: list[OllamaModel] = []
        for tag in client.tags():
            details = tag.details
            model = OllamaModel(
                name=tag.name,
                digest=tag.digest,
                size_bytes=tag.size_bytes,
                format=details.format,
                family=details.family,
                parameter_size=details.parameter_size,
                quantization_level=details.quantization_level,
                capabilities=list(tag.capabilities or []),
            )
            try:
                show = client.show(tag.name)
            except ServerError as exc:
                model.show_error = str(exc)
                problems.append(f"/api/show {tag.name}: {exc}")
            else:
                info = show.model_info
                arch = info.get("general.architecture")
                model.architecture = str(arch) if arch else None
                model.parameter_count = _info_int(info, "general.parameter_count")
                if show.capabilities:
                    model.capabilities = list(show.capabilities)
                if arch:
                    model.context_length = _info_int(info, f"{arch}.context_length")
                    model.block_count = _info_int(info, f"{arch}.block_count")
                    model.embedding_length = _info_int(info, f"{arch}.embedding_length")
                    model.head_count = _info_int(info, f"{arch}.attention.head_count")
                    model.head_count_kv = _info_int(info, f"{arch}.attention.head_count_kv")
                    model.key_length = _info_int(info, f"{arch}.attention.key_length")
                    model.vocab_size = _info_int(info, f"{arch}.vocab_size")
                model.num_ctx = _num_ctx(show.parameters)
            models.append(model)
        loaded = [
            LoadedModel(
                name=m.name,
                size_bytes=m.size_bytes,
                size_vram_bytes=m.size_vram_bytes,
                context_length=m.context_length,
                expires_at=m.expires_at,
            )
            for m in client.ps()
        ]
    return version, models, loaded, problems
