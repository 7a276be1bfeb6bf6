"""Redaction: the one function every piece of text passes through before it is stored or shown.

Applied at the source (the inventory's client scan keeps source lines as evidence) and again wherever text
leaves the process (Slack and console messages, Prefect artifacts, ledger results, report files), so that a
secret missed at the source is still caught on the way out. What is hidden:

- URL userinfo: ``http://user:pass@host`` -> ``http://***@host`` (a URL without userinfo is left alone);
- bearer/basic credentials: ``Authorization: Bearer abc.def`` -> ``Bearer ***``;
- values assigned to secret-looking names (key, token, secret, password, credentials, auth) in Python, JS,
  YAML, JSON, .env and command-line forms, whatever the quoting: ``api_key="x"`` -> ``api_key="***"``;
- known token shapes anywhere: OpenAI/Stripe ``sk-``/``sk_live_``, Hugging Face ``hf_``, Slack ``xoxb-`` /
  ``xoxp-`` / ``xapp-``, GitHub ``ghp_``/``github_pat_``, GitLab ``glpat-``, AWS ``AKIA``, and JWTs (``eyJ...``);
- the exact values of the configured secrets (``Settings``' SecretStr fields), remembered when the settings
  are validated, so that even a secret of no known shape is scrubbed wherever it turns up.

Over-redaction is the safe failure: a harmless value next to ``key=`` is hidden too. Prose is left alone: the
word "token" without an assignment, or ``Bearer`` followed by an ordinary word, does not match.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_REMEMBERED_CHARS = 6  # shorter configured secrets would blank out ordinary words; the patterns still apply

# Every repetition that could run far is bounded or anchored to a rare start, so redaction stays linear in the
# length of the text whatever it holds (a long base64 blob, "a:a:a:...", "a.a.a...").
_URL_USERINFO = re.compile(r"(?P<scheme>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://)[^\s/?#@'\"<>`]{1,512}@")
# A credential after Bearer/Basic: it must contain a non-letter or be long, so "Bearer authentication" stays.
_AUTH_SCHEME = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Token)(?P<space>[ \t]{1,8}|%20)"
    r"(?P<cred>(?=[A-Za-z0-9._~+/=-]{0,4096}[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}|[A-Za-z]{24,})",
    re.IGNORECASE,
)
_TOKEN_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-[A-Za-z0-9_-]{8,}"  # OpenAI (sk-..., sk-proj-..., sk-live-...)
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{8,}"  # Stripe-style secret keys
    r"|hf_[A-Za-z0-9]{20,}"  # Hugging Face user access tokens
    r"|xox[abeoprs]-[A-Za-z0-9-]{8,}"  # Slack bot / user / legacy tokens
    r"|xapp-[A-Za-z0-9-]{8,}"  # Slack app-level tokens
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|glpat-[A-Za-z0-9_-]{16,}"  # GitLab
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWT: base64url JSON header.payload.signature
    r")"
)
# An assignment's head: name, closing quote, separator. Its value is matched separately, and only after a
# secret name, so a harmless "e": "..." never swallows the api_key="..." inside it and nothing is read twice.
_ASSIGNMENT = re.compile(
    r"(?<![\w.-])(?P<name>[A-Za-z_][\w.-]{0,127})(?P<close>\\?['\"]?)(?P<sep>[ \t]*(?::=|=>|=|:)[ \t]*)"
)
_FLAG = re.compile(r"(?<![\w-])(?P<name>--?[A-Za-z][\w-]{0,63})(?P<sep>=|[ \t]{1,8})(?=[^\s-])")
# Values: \"escaped\" (text inside a JSON string), "double", 'single', `backtick`, or unquoted.
_VALUE = re.compile(r"\\\"[^\"\\\n]*\\\"|\"[^\"\n]*\"|'[^'\n]*'|`[^`\n]*`|[^\s,;'\"`)\]}\\]+")
# The name's last word: token, secret, password... or anything ending in _key (api_key, SECRET_KEY, apiKey).
# A bare "key" is not enough (YAML and dicts are full of them); plural "tokens" (max_tokens) is a count.
_SECRET_NAME = re.compile(
    r"(?:^|[_.-])(?:token|secret|password|passwd|pwd|passphrase|credentials?|auth|authorization|apikey)$"
    r"|.[_.-]key$",
    re.IGNORECASE,
)
# Names ending in _key that name a lookup, not a credential: their values are ids that runs and people compare.
_LOOKUP_KEY = re.compile(r"(?:^|_)(?:idempotency|pause|cache|sort|partition|primary|foreign|dedup)_key$", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Unquoted values that are references or types, not secrets: keep them readable.
_NOT_A_VALUE = re.compile(
    r"^(?:\$\{?[A-Za-z_]|os\.environ|os\.getenv|process\.env|env\(|getenv\(|None$|null$|true$|false$|str$"
    r"|SecretStr|Optional|\*{3}|[A-Za-z_][\w.]*[(\[])",
)
# After "name:" (YAML, but also prose and error messages) an unquoted word counts only when it looks like a
# credential: it has a digit or symbol, or is long. "api_key: must be set" keeps its words.
_CREDENTIAL_LIKE = re.compile(r"^(?=.*[^A-Za-z]).{4,}$|^.{16,}$")

_lock = threading.Lock()
_remembered: frozenset[str] = frozenset()


def remember_secrets(values: Iterable[str | None]) -> None:
    """Add configured secret values to those scrubbed from every text (process-wide, never forgotten)."""
    global _remembered
    fresh = {v for v in values if v and len(v) >= MIN_REMEMBERED_CHARS}
    if fresh - _remembered:
        with _lock:
            _remembered = _remembered | fresh


def _is_secret_name(name: str) -> bool:
    words = _CAMEL.sub("_", name.strip(".-"))
    return bool(_SECRET_NAME.search(words)) and not _LOOKUP_KEY.search(words)


def _masked(value: str, *, after_colon: bool) -> str | None:
    """The masked form of an assigned value, or None to keep it (empty, already masked, a reference)."""
    quote = '\\"' if value.startswith('\\"') else value[:1] if value[:1] in "\"'`" else ""
    quoted = bool(quote) and len(value) >= 2 * len(quote) and value.endswith(quote)
    inner = value[len(quote) : -len(quote)] if quoted else value
    if not inner or inner == MASK or (not quoted and _NOT_A_VALUE.match(inner)):
        return None
    if after_colon and not quoted and not _CREDENTIAL_LIKE.match(inner):
        return None
    return f"{quote}{MASK}{quote}" if quoted else MASK


def _mask_values(head: re.Pattern[str], text: str) -> str:
    """Mask the value after every head whose name is a secret's; other heads are stepped over, value unread."""
    out, position = [], 0
    while (match := head.search(text, position)) is not None:
        out.append(text[position : match.end()])
        position = match.end()
        if not _is_secret_name(match.group("name").lstrip("-")):
            continue
        value = _VALUE.match(text, position)
        shown = _masked(value.group(0), after_colon=match.group("sep").strip() == ":") if value else None
        if value is not None and shown is not None:
            out.append(shown)
            position = value.end()
    return "".join(out) + text[position:]


def redact(text: str) -> str:
    """``text`` with every secret it appears to contain replaced by ``***``."""
    if not text:
        return text
    for secret in sorted(_remembered, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group('scheme')}{m.group('space')}{MASK}", text)
    text = _TOKEN_SHAPES.sub(MASK, text)
    return _mask_values(_ASSIGNMENT, _mask_values(_FLAG, text))


def redact_data(value: Any) -> Any:
    """A JSON-like structure with every string redacted; a key named like a secret hides its whole value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: (MASK if isinstance(key, str) and _is_secret_name(key) and _is_plain_secret(item)
                  else redact_data(item))
            for key, item in value.items()
        }  # fmt: skip
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value


def _is_plain_secret(item: Any) -> bool:
    # {"api_key": "x"} hides "x"; {"api_key_required": true} or {"secret_env": ["HF_TOKEN"]} are not values.
    return isinstance(item, str) and bool(item) and item != MASK
