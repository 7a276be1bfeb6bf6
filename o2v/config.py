"""One typed settings object for the whole migration (its sections live in ``o2v.config_sections``).

Loaded once from ``migration.yaml`` (path from ``--config`` or ``O2V_CONFIG``), then overridden by
``O2V__SECTION__FIELD`` environment variables. Unknown keys are rejected so that a typo never silently
falls back to a default. Secrets are ``SecretStr``: they print as ``**********`` everywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from o2v.config_sections import (
    CutoverSettings,
    DiagnoseSettings,
    GatewaySettings,
    GPUSettings,
    LoadTestSettings,
    ModelMapping,
    MonitorSettings,
    OllamaSettings,
    SlackSettings,
    StoreSettings,
    ThresholdSettings,
    VLLMSettings,
    normalise_url,
)
from o2v.errors import ConfigError

__all__ = [
    "CONFIG_ENV_VAR",
    "ENV_PREFIX",
    "CutoverSettings",
    "DiagnoseSettings",
    "GPUSettings",
    "GatewaySettings",
    "LoadTestSettings",
    "ModelMapping",
    "MonitorSettings",
    "OllamaSettings",
    "Settings",
    "SlackSettings",
    "StoreSettings",
    "ThresholdSettings",
    "VLLMSettings",
    "env_overrides",
    "env_var_for",
    "load_settings",
    "normalise_url",
    "resolve_config_path",
]

CONFIG_ENV_VAR = "O2V_CONFIG"
DEFAULT_CONFIG_PATH = Path("migration.yaml")


class Settings(BaseSettings):
    """Everything a migration needs to know, validated once."""

    model_config = SettingsConfigDict(
        env_prefix="O2V__", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    migration_id: str = Field("default", min_length=1, max_length=64, description="Names this migration's ledger.")
    workdir: Path = Field(Path(".o2v"), description="Where reports, rendered files and the SQLite store live.")
    ollama: OllamaSettings = Field(default_factory=OllamaSettings, description="The Ollama server in use today.")
    vllm: VLLMSettings = Field(default_factory=VLLMSettings, description="The vLLM server to deploy.")
    models: dict[str, ModelMapping] = Field(
        default_factory=dict, description="Ollama tag -> vLLM model; the plan's built-in catalog fills the rest."
    )
    gpu: GPUSettings = Field(default_factory=GPUSettings, description="GPU requirements.")
    loadtest: LoadTestSettings = Field(default_factory=LoadTestSettings, description="Load-validation workload.")
    thresholds: ThresholdSettings = Field(default_factory=ThresholdSettings, description="Gates and SLOs.")
    slack: SlackSettings = Field(default_factory=SlackSettings, description="Team notifications and approvals.")
    store: StoreSettings = Field(default_factory=StoreSettings, description="Results database.")
    cutover: CutoverSettings = Field(default_factory=CutoverSettings, description="Staged client cutover.")
    diagnose: DiagnoseSettings = Field(
        default_factory=DiagnoseSettings, description="Concurrency diagnosis."
    )
    monitor: MonitorSettings = Field(default_factory=MonitorSettings, description="Scheduled baseline monitor.")
    gateway: GatewaySettings = Field(default_factory=GatewaySettings, description="The cutover gateway.")

    @model_validator(mode="after")
    def _ports_differ(self) -> Settings:
        from urllib.parse import urlparse

        parsed = urlparse(self.ollama.url)
        ollama_port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if parsed.hostname in {self.vllm.host, "localhost", "127.0.0.1"} and ollama_port == self.vllm.port:
            raise ValueError(
                f"vllm.port: must differ from the port in ollama.url ({self.ollama.url}), got {self.vllm.port} for both"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment overrides the file, which is passed in as init kwargs. O2V's own environment source
        # replaces pydantic-settings' one: it rejects unknown O2V__ names (a typo must not be ignored) and
        # never raises a parsing traceback; a bad value becomes an ordinary validation problem.
        return O2VEnvSource(settings_cls), init_settings

    def config_hash(self) -> str:
        """Stable hash of everything except secrets and the ledger's own id: a changed plan re-runs phases."""
        data = self.model_dump(mode="json", exclude={"migration_id"})
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def store_url(self) -> str:
        return self.store.url


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


def resolve_config_path(path: str | Path | None = None) -> Path | None:
    """The file to load: the argument, else ``$O2V_CONFIG``, else ``./migration.yaml`` if it exists."""
    if path is not None:
        return Path(path)
    if os.environ.get(CONFIG_ENV_VAR):
        return Path(os.environ[CONFIG_ENV_VAR])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_settings(path: str | Path | None = None, *, overrides: dict[str, Any] | None = None) -> Settings:
    """Load and validate; raise ConfigError listing every problem, one line each."""
    from o2v.config_errors import describe_validation_error

    resolved = resolve_config_path(path)
    data: dict[str, Any] = {}
    source = str(resolved) if resolved else None
    if resolved is not None:
        data = read_yaml_mapping(resolved)
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, Settings), source) from exc


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError([f"{path}: file not found (create it from migration.example.yaml)"], str(path))
    if path.is_dir():
        raise ConfigError([f"{path}: is a directory, expected a YAML file"], str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot be read: {exc}"], str(path)) from exc
    try:
        loaded = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{path}: malformed YAML at {where}: {problem}"], str(path)) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            [f"{path}: expected a mapping of sections (ollama:, vllm:, ...), got {type(loaded).__name__}"], str(path)
        )
    return loaded


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping: YAML would silently keep the last one."""


def _no_duplicate_keys(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: let the normal constructor report it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {first})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged

