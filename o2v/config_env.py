"""``O2V__SECTION__FIELD`` environment variables: how they are named, read and parsed.

The lowest layer of the configuration: ``o2v.config`` (the Settings object) and ``o2v.config_errors`` (which
names the variable that set a bad value) both import from here, and this module imports neither, so the
import arrows point one way: config -> config_errors -> config_env.
"""

from __future__ import annotations

import os
from typing import Any

import yaml
from pydantic_settings import PydanticBaseSettingsSource

ENV_PREFIX = "O2V__"
ENV_DELIMITER = "__"


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``O2V__SECTION__FIELD=value`` variables as a nested mapping, e.g. ``{"vllm": {"port": "9000"}}``.

    Names are case-insensitive. Scalars stay strings (pydantic converts ``"9000"`` to an int where an int is
    expected, and a string field keeps ``"0042"`` as is); values starting with ``[`` or ``{`` are YAML flow
    collections (``[1, 5, 10]``, ``{"llama3.1:8b": {"hf_repo": "org/name"}}``); ``null`` clears an optional field.
    A value that cannot be parsed is passed on as a string, so validation names the field instead of crashing.
    """
    environ = dict(os.environ) if environ is None else environ
    result: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_DELIMITER)]
        if not all(parts):
            continue
        target = result
        for part in parts[:-1]:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):  # O2V__VLLM=... and O2V__VLLM__PORT=... together: the field wins
                node = target[part] = {}
            target = node
        target[parts[-1]] = _env_value(raw)
    return result


def env_var_for(path: str) -> str | None:
    """The environment variable that set the field at ``path`` (``vllm.port``), if one did."""
    wanted = ENV_PREFIX + ENV_DELIMITER.join(path.split(".")).upper()
    return next((name for name in os.environ if name.upper() == wanted), None)


def _env_value(raw: str) -> Any:
    text = raw.strip()
    if text == "null":
        return None
    if text[:1] in ("[", "{"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return raw
    return raw


class O2VEnvSource(PydanticBaseSettingsSource):
    """``O2V__SECTION__FIELD`` environment variables, parsed by :func:`env_overrides`."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return env_overrides()
