"""Turn pydantic's validation errors into one actionable line per problem.

``vllm.gpu_memory_utilization: must be > 0 and <= 0.95, got 1.3`` rather than pydantic's multi-line dump:
the field path, what was expected, what was found.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import annotated_types
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from o2v.config_env import env_var_for

_TYPE_WORDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "path_type": "a file path",
}
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per problem: ``<field path>: <expected>, got <found>``, secrets hidden, env vars named."""
    lines = []
    for details in exc.errors(include_url=False):
        error: dict[str, Any] = dict(details)
        loc = [part for part in error["loc"] if not _is_type_tag(part)]
        if _is_secret(model, loc):
            error["input"] = _HIDDEN
        text = _describe(error, model, loc)
        if not loc and error["type"] == "value_error":
            # A model-level check (e.g. two ports that must differ) names its own fields.
            line = text
        else:
            path = _path(loc)
            line = f"{path}: {text}"
            origin = env_var_for(path) if loc else None
            if origin:
                line += f" (set by the environment variable {origin})"
                if error["type"] in ("list_type", "dict_type", "model_type"):
                    line += "; give lists and mappings in YAML flow style, e.g. [1, 5, 10] or {key: value}"
        lines.append(line)
    return lines


class _Hidden:
    def __repr__(self) -> str:
        return "<hidden secret>"


_HIDDEN = _Hidden()
_SECRET_NAME = re.compile(r"(^|_)(token|password|passwd|secret|api_keys?|apikey|credentials?)$", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*://[^:/@\s]*:)[^@\s]*@")


def _is_secret(model: type[BaseModel], loc: list[Any]) -> bool:
    """Whether the value at ``loc`` is (part of) a secret: never echo it back, even when it is invalid."""
    if any(isinstance(part, str) and _SECRET_NAME.search(part) for part in loc):
        return True
    for end in range(1, len(loc) + 1):
        field = _field_at(model, loc[:end])
        if field is not None and _mentions(field.annotation, SecretStr):
            return True
    return False


def _mentions(annotation: Any, wanted: type) -> bool:
    if annotation is wanted:
        return True
    return any(_mentions(arg, wanted) for arg in getattr(annotation, "__args__", ()) or ())


def _path(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        name = str(part)
        if isinstance(part, int) or not name.isidentifier():
            text += f"[{part!r}]" if isinstance(part, str) else f"[{part}]"
        else:
            text += f".{name}" if text else name
    return text or "(top level)"


def _is_type_tag(part: Any) -> bool:
    # pydantic puts union members and function validator names into loc; they mean nothing to a user.
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _describe(error: dict[str, Any], model: type[BaseModel], loc: list[Any]) -> str:
    kind = error["type"]
    found = error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(model, loc)
    if kind == "missing":
        return "required, but missing"
    if kind in _BOUND_ERRORS:
        field = _field_at(model, loc)
        bounds = _bounds(field) if field is not None else ""
        return f"must be {bounds or _ctx_bound(kind, error.get('ctx', {}))}, got {_show(found)}"
    if kind in ("too_short", "too_long") and isinstance(found, str | list | dict):
        ctx = error.get("ctx", {})
        limits = f"min {ctx.get('min_length', '-')}, max {ctx.get('max_length', '-')}"
        return f"{error['msg'].lower()} ({limits}), got {_show(found)}"
    if kind == "literal_error":
        return f"must be one of {error.get('ctx', {}).get('expected')}, got {_show(found)}"
    if kind in _TYPE_WORDS:
        if found is _HIDDEN:
            return f"expected {_TYPE_WORDS[kind]}, got something else (value hidden: this field is a secret)"
        return f"expected {_TYPE_WORDS[kind]}, got {_show(found)} ({type(found).__name__})"
    if kind == "value_error":
        msg = str(error.get("ctx", {}).get("error", error["msg"]))
        return msg
    return f"{error['msg']}, got {_show(found)}"


def _unknown_key(model: type[BaseModel], loc: list[Any]) -> str:
    parent = _model_at(model, loc[:-1])
    key = str(loc[-1]) if loc else ""
    if parent is None:
        return "unknown key"
    allowed = sorted(parent.model_fields)
    hint = difflib.get_close_matches(key, allowed, n=1)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"unknown key (expected one of: {', '.join(allowed)}){suggestion}"


def _model_at(model: type[BaseModel], loc: list[Any]) -> type[BaseModel] | None:
    current: Any = model
    skip_key = False
    for part in loc:
        if skip_key:  # a free-form dict key (models: {"llama3.1:8b": ...}) names no field
            skip_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        skip_key = getattr(field.annotation, "__origin__", None) is dict
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


def _field_at(model: type[BaseModel], loc: list[Any]) -> FieldInfo | None:
    parent = _model_at(model, loc[:-1])
    if parent is None or not loc:
        return None
    return parent.model_fields.get(str(loc[-1]))


def _bounds(field: FieldInfo) -> str:
    parts = []
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Gt):
            parts.append(f"> {meta.gt}")
        elif isinstance(meta, annotated_types.Ge):
            parts.append(f">= {meta.ge}")
        elif isinstance(meta, annotated_types.Lt):
            parts.append(f"< {meta.lt}")
        elif isinstance(meta, annotated_types.Le):
            parts.append(f"<= {meta.le}")
    return " and ".join(parts)


def _ctx_bound(kind: str, ctx: dict[str, Any]) -> str:
    symbol = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
    value = next(iter(ctx.values()), "?")
    return f"{symbol} {value}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(_URL_CREDENTIALS.sub(r"\g<scheme>***@", value))
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
