"""One typed settings object for the whole migration (its sections live in ``o2v.config_sections``).

Loaded once from ``migration.yaml`` (path from ``--config`` or ``O2V_CONFIG``), then overridden by
``O2V__SECTION__FIELD`` environment variables. Unknown keys are rejected so that a typo never silently
falls back to a default. Secrets are ``SecretStr``: they print as ``**********`` everywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from o2v.config_env import ENV_DELIMITER, ENV_PREFIX, O2VEnvSource, env_overrides, env_var_for
from o2v.config_errors import describe_validation_error
from o2v.config_sections import (
    CutoverSettings,
    DecommissionSettings,
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
from o2v.redact import remember_secrets
from o2v.secret_hash import secret_digests

__all__ = [
    "CONFIG_ENV_VAR",
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "MIGRATION_ID_PATTERN",
    "CutoverSettings",
    "DecommissionSettings",
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
    decommission: DecommissionSettings = Field(
        default_factory=DecommissionSettings, description="Retiring Ollama after the cutover."
    )

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

    @field_validator("migration_id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        # The id is joined into paths (reports/<id>) and names: nothing that could climb out of the workdir.
        if not _MIGRATION_ID.fullmatch(value):
            raise ValueError(
                "must be 1-64 letters, digits, '.', '_' or '-', not starting with '.', "
                f"e.g. team-llm-2025.1, got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _remember_secrets(self) -> Settings:
        # Every text o2v stores or shows passes o2v.redact, which then scrubs these exact values too.
        remember_secrets(self.secret_values().values())
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
        """Stable hash of everything but the ledger's own id, secrets as keyed hashes: a change re-runs phases."""
        data = self.model_dump(mode="json", exclude={"migration_id"})
        data["store"]["url"] = self.store.safe_url  # its password, if any, is hashed with the other secrets
        data["ollama"]["url"] = _without_password(self.ollama.url)
        digests = self.secret_digests()
        if digests:  # keyed hashes of the secret values: a rotated token re-runs deploy (see o2v.secret_hash)
            data["secret_digests"] = digests
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def secret_values(self) -> dict[str, str]:
        """Every configured secret by field path (``vllm.api_key``, ``cutover.client_api_keys.team-a``)."""
        found: dict[str, str] = {}
        _collect_secrets(self, "", found)
        from sqlalchemy.engine import make_url

        password = make_url(self.store.url).password
        if password:
            found["store.url.password"] = str(password)
        if urlsplit(self.ollama.url).password:  # http://user:password@host:11434 (a proxy in front of Ollama)
            found["ollama.url.password"] = str(urlsplit(self.ollama.url).password)
        return found

    def secret_digests(self) -> dict[str, str]:
        """HMAC of each secret value under this installation's key (in the workdir): never the values."""
        return secret_digests(self.workdir, self.secret_values())

    def section_fingerprint(self, path: str) -> str:
        """Stable hash of one part of the settings (``"vllm"``, ``"vllm.api_key"``, ``"models"``).

        The phase ledger keys each phase by the parts it reads (``o2v.phase_keys``), so a new Slack channel
        does not re-run the probe sweep. Secrets dump as ``**********``; the keyed hashes of the values under
        ``path`` are added, so a rotated token re-runs every phase that reads it, and URL passwords count only
        through those hashes.
        """
        value: Any = self
        for part in path.split("."):
            if not isinstance(value, BaseModel) or part not in type(value).model_fields:
                raise KeyError(f"no settings field {path!r} (at {part!r})")
            value = getattr(value, part)
        data = value.model_dump(mode="json") if isinstance(value, BaseModel) else _jsonable(value)
        if path == "store":
            data["url"] = self.store.safe_url
        elif path == "ollama":
            data["url"] = _without_password(self.ollama.url)
        elif path in {"store.url", "ollama.url"}:
            data = self.store.safe_url if path == "store.url" else _without_password(self.ollama.url)
        digests = {k: v for k, v in self.secret_digests().items() if k == path or k.startswith(path + ".")}
        if digests:
            data = {"value": data, "secret_digests": digests}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def store_url(self) -> str:
        return self.store.url


MIGRATION_ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"
"""What a migration id may be (it is joined into paths): flow parameters validate against it too."""
_MIGRATION_ID = re.compile(MIGRATION_ID_PATTERN)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}").geturl()


def _collect_secrets(value: Any, path: str, found: dict[str, str]) -> None:
    if isinstance(value, SecretStr):
        found[path] = value.get_secret_value()
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect_secrets(item, f"{path}.{key}", found)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect_secrets(getattr(value, name), f"{path}.{name}" if path else name, found)


def resolve_config_path(path: str | Path | None = None) -> Path | None:
    """The file to load: the argument, else ``$O2V_CONFIG``, else ``./migration.yaml`` if it exists."""
    if path is not None:
        return Path(path)
    if os.environ.get(CONFIG_ENV_VAR):
        return Path(os.environ[CONFIG_ENV_VAR])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_settings(path: str | Path | None = None, *, overrides: dict[str, Any] | None = None) -> Settings:
    """Load and validate; raise ConfigError listing every problem, one line each."""
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



def _jsonable(value: Any) -> Any:
    """A settings value (dicts of sections, paths, secrets) as JSON-ready data, secrets masked."""
    if isinstance(value, SecretStr):
        return str(value)  # "**********": see Settings.section_fingerprint
    return TypeAdapter(Any).dump_python(value, mode="json")
