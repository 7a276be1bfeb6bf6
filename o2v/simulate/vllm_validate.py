"""vLLM's request checks whose wording changed between releases: context length, ``max_tokens``, usage.

Since the renderer rework (vLLM 0.16, early 2026; ``vllm/renderers/params.py``) a prompt that does not
leave room for the requested output says ``You passed N input tokens and requested M output tokens. ...
(parameter=input_tokens, value=N)`` with ``param`` ``input_tokens``, and a too-large ``max_tokens`` surfaces
as that same input error.  vLLM truncates the tokenization at one token past the limit, so N is at most
the maximum input length plus one.  Older releases (``--version-string`` below 0.16, or ``--legacy-errors``)
said ``This model's maximum context length is L tokens. However, ...``.
"""

from __future__ import annotations

import re

from o2v.simulate.openai_fmt import BadRequest, OpenAIRequest

CURRENT_WORDING_SINCE = (0, 16)


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.16.0rc1.dev5"`` -> ``(0, 16, 0)``: the leading numbers only."""
    parts = []
    for piece in version.lstrip("v").split("."):
        match = re.match(r"\d+", piece)
        if match is None:
            break
        parts.append(int(match.group()))
        if match.end() != len(piece):
            break
    return tuple(parts)


def current_wording(version: str, legacy_errors: bool) -> bool:
    return not legacy_errors and version_tuple(version) >= CURRENT_WORDING_SINCE


def check_context(limit: int, prompt: int, max_tokens: int | None, *, current: bool) -> int:
    """vLLM's length checks; returns the effective max_tokens."""
    if current:
        return _check_current(limit, prompt, max_tokens)
    return _check_legacy(limit, prompt, max_tokens)


def _check_current(limit: int, prompt: int, max_tokens: int | None) -> int:
    requested = max_tokens or 0
    if requested > limit:
        raise BadRequest(
            f"max_tokens={requested} cannot be greater than max_model_len={limit}. "
            f"Please request fewer output tokens. (parameter=max_tokens, value={requested})",
            param="max_tokens",
        )
    max_input = limit - requested
    if prompt > max_input:
        passed = max_input + 1  # the tokenizer stops one token past the limit
        raise BadRequest(
            f"You passed {passed} input tokens and requested {requested} output tokens. However, the "
            f"model's context length is only {limit} tokens, resulting in a maximum input length of "
            f"{max_input} tokens. Please reduce the length of the input prompt. "
            f"(parameter=input_tokens, value={passed})",
            param="input_tokens",
        )
    if max_tokens is None:
        if prompt == limit:  # no room left for even one token
            raise BadRequest("max_tokens must be at least 1, got 0.", param="max_tokens")
        return limit - prompt
    if max_tokens < 1:
        raise BadRequest(f"max_tokens must be at least 1, got {max_tokens}.", param="max_tokens")
    return max_tokens


def _check_legacy(limit: int, prompt: int, max_tokens: int | None) -> int:
    if prompt >= limit:
        raise BadRequest(
            f"This model's maximum context length is {limit} tokens. However, your request has "
            f"{prompt} input tokens. Please reduce the length of the input messages."
        )
    if max_tokens is None:
        return limit - prompt
    if max_tokens < 1:
        raise BadRequest(f"max_tokens must be at least 1, got {max_tokens}.", param="max_tokens")
    if prompt + max_tokens > limit:
        raise BadRequest(
            f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum "
            f"context length is {limit} tokens and your request has {prompt} input tokens "
            f"({max_tokens} > {limit} - {prompt}).",
            param="max_tokens",
        )
    return max_tokens


def apply_stream_options(req: OpenAIRequest, body: dict[str, object]) -> None:
    """vLLM's ``StreamOptions.include_usage`` defaults to true: ``stream_options: {}`` asks for usage, and
    ``continuous_usage_stats`` only counts together with it."""
    opts = body.get("stream_options")
    if isinstance(opts, dict):
        req.include_usage = bool(opts.get("include_usage", True))
        req.continuous_usage = req.include_usage and bool(opts.get("continuous_usage_stats"))
