"""Ollama request ``options``, ``format`` and ``think`` as vLLM sampling and structured-output fields.

Ollama reads ``options`` loosely (``api.Options.FromMap``): an unknown key is logged and ignored, a known key
of the wrong JSON type is a 400 (``option "top_k" must be of type integer``). We keep both habits, and add a
third list: options Ollama honours but vLLM cannot (``num_ctx`` is fixed by ``--max-model-len``, ``num_gpu`` and
``num_thread`` by the deployment, ``mirostat`` has no vLLM sampler). Those are accepted and returned by name so
the gateway can count, per client, who still relies on them -- never dropped silently.

vLLM's OpenAI server takes ``top_k``, ``min_p`` and ``repetition_penalty`` as extra body fields next to the
OpenAI ones (``ChatCompletionRequest`` / ``CompletionRequest`` sampling params), and structured output through
``response_format`` (``json_object``, or ``json_schema`` with a required ``name``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from o2v.errors import TranslationError

# Options Ollama knows (current api.Options/Runner, plus keys older releases accepted) that vLLM cannot honour
# per request. Reported as ignored, with these reasons in docs/gateway.md.
UNHONOURED_OPTIONS = frozenset(
    {
        "num_ctx",  # context is --max-model-len for the whole server
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "use_mmap",
        "use_mlock",
        "low_vram",
        "f16_kv",
        "vocab_only",
        "logits_all",
        "embedding_only",
        "numa",
        "num_gqa",
        "rope_frequency_base",
        "rope_frequency_scale",
        "draft_num_predict",
        "num_keep",  # vLLM never shifts the context, so there is nothing to keep
        "repeat_last_n",  # vLLM penalises the whole sequence, not a window
        "typical_p",  # no locally-typical sampler in vLLM
        "tfs_z",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
        "penalize_newline",
    }
)

# Top-level request fields with no vLLM equivalent: accepted and counted like the options above.
UNHONOURED_FIELDS = ("keep_alive", "shift")


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranslationError(f'option "{key}" must be of type float32')
    return float(value)


def _integer(key: str, value: Any) -> int:
    # Go's decoder gives every JSON number as float64 and Ollama truncates it to int.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranslationError(f'option "{key}" must be of type integer')
    return int(value)


def _stop(key: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise TranslationError(f'option "{key}" must be of type array')
    if not all(isinstance(item, str) for item in value):
        raise TranslationError(f'option "{key}" must be of an array of strings')
    return list(value)


def _max_tokens(key: str, value: Any) -> int | None:
    # -1 (until a stop, Ollama's default) and -2 (fill the context) both mean "no limit": vLLM then generates up
    # to the model length. 0 is no limit too (Ollama's runner only stops on a positive budget).
    number = _integer(key, value)
    return number if number > 0 else None


def _top_k(key: str, value: Any) -> int:
    # Ollama/llama.cpp disable top-k with 0 (or less); vLLM disables it with -1 (0 is refused by older releases).
    number = _integer(key, value)
    return number if number > 0 else -1


def _seed(key: str, value: Any) -> int | None:
    # Ollama's -1 means "random"; in vLLM -1 would be a fixed seed, so a negative seed is left out.
    number = _integer(key, value)
    return number if number >= 0 else None


# Ollama option -> (vLLM field, converter). A converter returning None leaves the field out.
_MAPPED: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "num_predict": ("max_tokens", _max_tokens),
    "temperature": ("temperature", _number),
    "top_p": ("top_p", _number),
    "top_k": ("top_k", _top_k),
    "min_p": ("min_p", _number),
    "seed": ("seed", _seed),
    "stop": ("stop", _stop),
    "repeat_penalty": ("repetition_penalty", _number),
    "presence_penalty": ("presence_penalty", _number),
    "frequency_penalty": ("frequency_penalty", _number),
}


def map_options(options: Any) -> tuple[dict[str, Any], list[str]]:
    """vLLM sampling fields for Ollama ``options``, and the option names vLLM cannot honour."""
    if options is None:
        return {}, []
    if not isinstance(options, dict):
        raise TranslationError("json: cannot unmarshal into Go struct field .options of type map[string]interface {}")
    fields: dict[str, Any] = {}
    ignored: list[str] = []
    for key, value in options.items():
        if value is None:
            continue  # Ollama skips nulls too
        if key in _MAPPED:
            name, convert = _MAPPED[key]
            converted = convert(key, value)
            if converted is not None:
                fields[name] = converted
        else:
            ignored.append(key)  # unhonoured, or unknown (Ollama itself ignores unknown keys with a warning)
    return fields, ignored


def unhonoured_fields(body: dict[str, Any]) -> list[str]:
    """Top-level fields the client set that vLLM cannot honour (``keep_alive``, ``shift``, ``truncate: true``)."""
    names = [name for name in UNHONOURED_FIELDS if body.get(name) is not None]
    # Ollama truncates an over-long prompt silently when truncate is true; vLLM answers 400 instead.
    if body.get("truncate") is True:
        names.append("truncate")
    return names


def map_format(value: Any) -> dict[str, Any]:
    """``{"response_format": ...}`` for Ollama's ``format`` ("json" or a JSON schema); empty when unset."""
    if value is None or value == "":
        return {}
    if value == "json":
        return {"response_format": {"type": "json_object"}}
    if isinstance(value, dict):
        title = value.get("title")
        name = title if isinstance(title, str) and title.strip() else "ollama_format"
        return {"response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": value}}}
    raise TranslationError(f'invalid format: expected "json" or a valid JSON schema, got {value!r}')


THINK_LEVELS = ("high", "medium", "low", "max")


def map_think(value: Any) -> dict[str, Any]:
    """vLLM fields for Ollama's ``think`` (true/false, or a level for gpt-oss-like models); empty when unset.

    ``enable_thinking`` is what Qwen3-style chat templates read and ``thinking`` what DeepSeek-V3.1 and Granite
    templates read; vLLM passes chat_template_kwargs to the template, which ignores names it does not use.
    A level is also sent as ``reasoning_effort`` (gpt-oss); vLLM knows no "max" effort before DeepSeek V4, so
    "max" goes as "high", as Ollama's own harmony path does.
    """
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"chat_template_kwargs": {"enable_thinking": value, "thinking": value}}
    if isinstance(value, str) and value in THINK_LEVELS:
        return {
            "chat_template_kwargs": {"enable_thinking": True, "thinking": True},
            "reasoning_effort": "high" if value == "max" else value,
        }
    raise TranslationError(f'invalid think value: {value!r} (must be "high", "medium", "low", "max", true, or false)')
