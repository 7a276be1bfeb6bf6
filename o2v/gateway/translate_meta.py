"""Ollama's model routes (``/api/tags``, ``/api/show``, ``/api/ps``, ``/api/version``) answered from vLLM.

vLLM's ``/v1/models`` knows only the served names and ``max_model_len``; the inventory of the Ollama server that
is being replaced knows the rest (family, size, quantization, digest, GGUF header). The answers join the two by
name: a vLLM model card whose id is an Ollama tag (the default ``served_name``, so clients need no change) takes
that tag's inventory facts. ``aliases`` maps other served names to their tags; such a model is listed under its
tag, the name clients send (the gateway maps it back to the served name).

Also the error bodies of both APIs, so the gateway answers in the shape the client's API expects.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from o2v.errors import TranslationError

# The Ollama release whose API the translation follows (docs/gateway.md; /work/shared/reference/servers.md).
EMULATED_OLLAMA_VERSION = "0.32.15"
# What Ollama prints as expires_at for a model kept loaded forever: vLLM never unloads.
FOREVER = "2318-08-01T00:00:00Z"


# The last second formatted, and its text: one strftime per second instead of one per streamed line. A tuple,
# read and replaced whole, so threads never see a second paired with another second's text.
_last_second: tuple[int, str] = (-1, "")


def rfc3339_nano(ns: int | None = None) -> str:
    """A UTC time (ns since the epoch; now by default) as Go's RFC3339Nano writes it: trailing zeros cut, ``Z``."""
    ns = time.time_ns() if ns is None else ns
    global _last_second
    seconds, frac = divmod(ns, 1_000_000_000)
    cached = _last_second
    if cached[0] != seconds:
        cached = _last_second = (seconds, datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    stamp = cached[1]
    digits = f"{frac:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def _by_name(inventory_models: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(m.get("name")): m for m in inventory_models if m.get("name")}


def _inventory_for(
    served: str, index: dict[str, dict[str, Any]], aliases: dict[str, str] | None
) -> dict[str, Any] | None:
    tag = (aliases or {}).get(served, served)
    return index.get(tag) or index.get(f"{tag}:latest")


def _client_name(card: dict[str, Any], aliases: dict[str, str] | None) -> str:
    """The name clients know a served model by: its Ollama tag when the served name differs from it."""
    served = str(card["id"])
    return (aliases or {}).get(served, served)


def _details(inv: dict[str, Any] | None) -> dict[str, Any]:
    inv = inv or {}
    family = inv.get("family") or inv.get("architecture") or ""
    return {
        "parent_model": "",
        "format": inv.get("format") or "",
        "family": family,
        "families": [family] if family else None,
        "parameter_size": inv.get("parameter_size") or "",
        "quantization_level": inv.get("quantization_level") or "",
    }


def _modified_at(card: dict[str, Any] | None) -> str:
    created = (card or {}).get("created")
    return rfc3339_nano(int(created) * 1_000_000_000) if isinstance(created, int | float) else rfc3339_nano()


def _tag_entry(served: str, card: dict[str, Any] | None, inv: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": served,
        "model": served,
        "modified_at": _modified_at(card),
        "size": int((inv or {}).get("size_bytes") or 0),
        "digest": (inv or {}).get("digest") or "",
        "details": _details(inv),
    }
    if inv and inv.get("capabilities"):
        entry["capabilities"] = list(inv["capabilities"])
    return entry


def native_tags(
    vllm_models: list[dict[str, Any]], inventory_models: list[dict[str, Any]], *, aliases: dict[str, str] | None = None
) -> dict[str, Any]:
    """``/api/tags``: every model vLLM serves, with the inventory's details where the name is known."""
    index = _by_name(inventory_models)
    models = [
        _tag_entry(_client_name(card, aliases), card, _inventory_for(str(card["id"]), index, aliases))
        for card in vllm_models
        if card.get("id")
    ]
    return {"models": models}


def native_ps(
    vllm_models: list[dict[str, Any]], inventory_models: list[dict[str, Any]], *, aliases: dict[str, str] | None = None
) -> dict[str, Any]:
    """``/api/ps``: vLLM's models are always loaded, for good, with ``max_model_len`` as their context."""
    index = _by_name(inventory_models)
    models = []
    for card in vllm_models:
        if not card.get("id"):
            continue
        entry = _tag_entry(_client_name(card, aliases), card, _inventory_for(str(card["id"]), index, aliases))
        entry.pop("modified_at")
        entry.pop("capabilities", None)
        entry["expires_at"] = FOREVER
        entry["size_vram"] = entry["size"]
        entry["context_length"] = int(card.get("max_model_len") or 0)
        models.append(entry)
    return {"models": models}


def _model_info(inv: dict[str, Any] | None, context_length: int | None) -> dict[str, Any]:
    """GGUF-style ``model_info``: the inventory's header facts, with the context vLLM actually serves."""
    inv = inv or {}
    arch = inv.get("architecture") or inv.get("family") or "unknown"
    info: dict[str, Any] = {"general.architecture": arch}
    if inv.get("parameter_count"):
        info["general.parameter_count"] = inv["parameter_count"]
    if context_length:
        info[f"{arch}.context_length"] = context_length
    keys = {
        "block_count": "block_count",
        "embedding_length": "embedding_length",
        "head_count": "attention.head_count",
        "head_count_kv": "attention.head_count_kv",
        "key_length": "attention.key_length",
        "vocab_size": "vocab_size",
    }
    for field, key in keys.items():
        if inv.get(field):
            info[f"{arch}.{key}"] = inv[field]
    return info


def native_show(name: str, vllm_model: dict[str, Any] | None, inventory_model: dict[str, Any] | None) -> dict[str, Any]:
    """``/api/show`` for a model vLLM serves. Raises :class:`TranslationError` (404) when neither side knows it."""
    if vllm_model is None and inventory_model is None:
        raise TranslationError(f"model '{name}' not found", status=404)
    inv = inventory_model or {}
    served_len = (vllm_model or {}).get("max_model_len")
    context_length = int(served_len) if served_len else inv.get("num_ctx") or inv.get("context_length")
    root = (vllm_model or {}).get("root") or name
    modelfile = f'# Modelfile generated by "ollama show"\n# served by vLLM from {root}\nFROM {root}\n'
    parameters = ""
    if context_length:
        parameters = f"{'num_ctx':<30} {context_length}"
        modelfile += f"PARAMETER {parameters}\n"
    reply: dict[str, Any] = {"modelfile": modelfile}
    if parameters:
        reply["parameters"] = parameters
    # No "template": vLLM applies the model's own (Jinja) chat template, which is not an Ollama Go template.
    reply["details"] = _details(inventory_model)
    reply["model_info"] = _model_info(inventory_model, context_length)
    reply["capabilities"] = list(inv.get("capabilities") or ["completion"])
    reply["modified_at"] = _modified_at(vllm_model)
    return reply


def native_version(ollama_version: str | None = None) -> dict[str, Any]:
    """``/api/version``: the Ollama behind the gateway's version when known, else the API level translated."""
    return {"version": ollama_version or EMULATED_OLLAMA_VERSION}


def ollama_error(message: str) -> dict[str, Any]:
    """Ollama's native error body."""
    return {"error": message}


def openai_error(message: str, type_: str, param: str | None = None, code: int | str | None = None) -> dict[str, Any]:
    """vLLM's (current) OpenAI error body: ``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
