"""One typed settings object for the whole migration.

Loaded once from ``migration.yaml`` (path from ``--config`` or ``O2V_CONFIG``), then overridden by
``O2V__SECTION__FIELD`` environment variables. Unknown keys are rejected so that a typo never silently
falls back to a default. Secrets are ``SecretStr``: they print as ``**********`` everywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from o2v.errors import ConfigError

CONFIG_ENV_VAR = "O2V_CONFIG"
DEFAULT_CONFIG_PATH = Path("migration.yaml")


def normalise_url(url: str) -> str:
    """Strip whitespace, trailing slashes and a trailing ``/v1`` so every client joins paths the same way."""
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url.rstrip("/")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OllamaSettings(Section):
    url: str = Field("http://127.0.0.1:11434", description="Base URL of the Ollama server being migrated away from.")
    container_name: str = Field("ollama", description="Docker container running Ollama (for logs and environment).")
    log_source: Literal["docker", "file", "none"] = Field(
        "docker", description="Where Ollama's logs are read: the container's Docker logs, a file, or nowhere."
    )
    log_file: Path | None = Field(None, description="Path of Ollama's log file when log_source is 'file'.")
    timeout_s: float = Field(30.0, gt=0, le=3600, description="Client timeout the team's tools use, in seconds.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value)

    @model_validator(mode="after")
    def _log_file_needed(self) -> OllamaSettings:
        if self.log_source == "file" and self.log_file is None:
            raise ValueError("log_file is required when log_source is 'file'")
        return self


class VLLMSettings(Section):
    image: str = Field("vllm/vllm-openai:v0.11.0", description="vLLM container image, with a pinned tag.")
    host: str = Field("127.0.0.1", description="Host (as clients reach it) where vLLM will listen.")
    port: int = Field(8000, ge=1, le=65535, description="Port for vLLM; must differ from Ollama's.")
    container_name: str = Field("o2v-vllm", description="Name of the vLLM container o2v creates.")
    backend: Literal["docker", "process"] = Field(
        "docker", description="Run vLLM as a Docker container or as a local process (bare metal, simulators)."
    )
    command: list[str] = Field(
        default_factory=lambda: ["vllm", "serve"],
        description="Command that starts vLLM for the 'process' backend (the model and flags are appended).",
    )
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=0.95, description="Fraction of TOTAL GPU memory vLLM may use (after decommission)."
    )
    max_model_len: int | None = Field(None, ge=256, description="Context length; chosen by the plan when empty.")
    max_num_seqs: int | None = Field(None, ge=1, le=4096, description="Concurrent sequences; planned when empty.")
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="GPUs per model (tensor parallelism).")
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = Field("auto", description="Weight dtype.")
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] = Field("auto", description="KV-cache dtype.")
    enforce_eager: bool = Field(False, description="Disable CUDA graphs (saves memory, costs speed).")
    extra_args: list[str] = Field(default_factory=list, description="Further `vllm serve` flags, passed as is.")
    api_key: SecretStr | None = Field(None, description="Bearer token vLLM requires on /v1 (--api-key).")
    hf_token: SecretStr | None = Field(None, description="Hugging Face token for gated repositories.")
    health_timeout_s: float = Field(900.0, gt=0, le=7200, description="How long to wait for /health after start.")
    shm_size: str = Field("16g", description="Shared memory for the container (vLLM needs a large /dev/shm).")
    hf_cache_dir: Path = Field(
        Path("~/.cache/huggingface"), description="Host directory mounted as the container's Hugging Face cache."
    )

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        name, _, tag = value.rpartition(":") if ":" in value.split("/")[-1] else (value, "", "")
        if not tag or tag == "latest":
            raise ValueError(f"must be an image with a pinned tag such as vllm/vllm-openai:v0.11.0, got {value!r}")
        return value

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class ModelMapping(Section):
    hf_repo: str = Field(..., description="Hugging Face repository vLLM serves for this Ollama tag.")
    served_name: str | None = Field(
        None, description="Name clients send to vLLM; defaults to the Ollama tag so clients need no change."
    )
    quantization: str | None = Field(None, description="vLLM --quantization (awq, gptq, fp8) when the repo needs it.")

    @field_validator("hf_repo")
    @classmethod
    def _repo(cls, value: str) -> str:
        if value.count("/") != 1 or value.startswith("/") or value.endswith("/"):
            raise ValueError(f"must look like 'org/name', got {value!r}")
        return value


class GPUSettings(Section):
    min_compute_capability: float = Field(8.0, ge=3.0, le=20.0, description="Lowest compute capability accepted.")
    device_indices: list[int] = Field(default_factory=lambda: [0], description="GPUs vLLM may use.")
    min_free_gib: float = Field(0.0, ge=0, description="Extra free memory to keep beyond vLLM's planned share.")
    recorded_devices: Path | None = Field(
        None, description="A recorded NVML device description (JSON) to use instead of the real driver."
    )


class LoadTestSettings(Section):
    concurrency: list[int] = Field(default_factory=lambda: [1, 5, 10, 20, 50], description="Concurrency levels.")
    requests_per_level: int = Field(20, ge=1, le=100_000, description="Requests per level (p95 needs >= 20).")
    max_tokens: int = Field(128, ge=1, le=32_768, description="Output tokens requested per request.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    request_timeout_s: float = Field(120.0, gt=0, le=3600, description="Per-request timeout.")
    warmup_requests: int = Field(2, ge=0, le=1000, description="Requests sent before measuring each endpoint.")
    prompts_file: Path | None = Field(None, description="JSONL file of prompts; the built-in set when empty.")
    seed: int = Field(0, description="Seed for prompt order and Poisson arrivals.")
    model: str | None = Field(None, description="Ollama tag to compare; the first entry of models when empty.")
    ollama_api: Literal["openai", "ollama"] = Field(
        "openai", description="API used on Ollama in comparisons: 'openai' (/v1, same wire as vLLM) or native."
    )

    @field_validator("concurrency")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("must list at least one concurrency level, got []")
        bad = [v for v in value if v < 1 or v > 10_000]
        if bad:
            raise ValueError(f"each level must be >= 1 and <= 10000, got {bad}")
        return value


class ThresholdSettings(Section):
    min_samples: int = Field(20, ge=1, description="Fewer samples than this in a window is inconclusive.")
    max_error_rate: float = Field(0.01, ge=0, le=1, description="Highest acceptable error rate (0..1).")
    max_timeout_rate: float = Field(0.01, ge=0, le=1, description="Highest acceptable timeout rate (0..1).")
    p95_e2e_ms: float = Field(30_000, gt=0, description="Highest acceptable p95 end-to-end latency.")
    p95_ttft_ms: float = Field(5_000, gt=0, description="Highest acceptable p95 time to first token.")
    max_vllm_to_ollama_p95_ratio: float = Field(
        1.0, gt=0, description="vLLM's p95 latency may be at most this multiple of Ollama's at the same load."
    )
    compare_from_concurrency: int = Field(
        2, ge=1, le=10_000, description="vLLM-vs-Ollama ratios are judged at this concurrency and above."
    )
    max_single_stream_p95_ratio: float = Field(
        1.5,
        gt=0,
        description="Below compare_from_concurrency, vLLM's p95 may be at most this multiple of Ollama's.",
    )
    min_vllm_to_ollama_throughput_ratio: float = Field(
        1.0, gt=0, description="vLLM's throughput must be at least this multiple of Ollama's at the same load."
    )
    outgrown_p95_e2e_ms: float = Field(
        10_000, gt=0, description="Baseline p95 latency above which Ollama counts as outgrown."
    )
    outgrown_queue_share: float = Field(
        0.5, gt=0, le=1, description="Share of latency spent queueing above which Ollama counts as outgrown."
    )
    slo_ttft_ms: float = Field(2_000, gt=0, description="Goodput SLO: time to first token.")
    slo_tpot_ms: float = Field(100, gt=0, description="Goodput SLO: time per output token.")
    slo_e2e_ms: float = Field(30_000, gt=0, description="Goodput SLO: end-to-end latency.")


class SlackSettings(Section):
    bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-...); console output when empty.")
    channel: str = Field("#llm-migration", description="Channel for phase messages and approvals.")
    base_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (a local server in tests).")
    approval_timeout_s: float = Field(3600.0, gt=0, le=7 * 86400, description="No answer in time means 'no'.")

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None and bool(self.bot_token.get_secret_value())


class StoreSettings(Section):
    url: str = Field(
        "sqlite:///.o2v/o2v.db",
        description="SQLAlchemy URL of the results store (postgresql://user:password@host/db works too).",
    )
    batch_size: int = Field(500, ge=1, le=100_000, description="Samples written per insert.")

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"must be a SQLAlchemy URL such as sqlite:///.o2v/o2v.db, got {value!r}") from exc
        return value

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for logs, reports and summaries."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def __repr_args__(self) -> Any:
        # The URL may carry a database password: keep it out of repr() and str(), which end up in logs.
        for name, value in super().__repr_args__():
            yield name, (self.safe_url if name == "url" else value)


class CutoverSettings(Section):
    stages_percent: list[int] = Field(default_factory=lambda: [10, 50, 100], description="Traffic share per stage.")
    watch_window_s: float = Field(900.0, gt=0, description="Observation time per stage before promotion.")
    gateway_port: int = Field(11435, ge=1, le=65535, description="Port of the cutover gateway.")
    decommission_after_days: float = Field(7.0, ge=0, le=365, description="Stable days before Ollama is retired.")
    client_api_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Bearer tokens the gateway accepts, by client name."
    )

    @field_validator("stages_percent")
    @classmethod
    def _stages(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 < v <= 100 for v in value) or value != sorted(value) or value[-1] != 100:
            raise ValueError(f"must be increasing percentages in (0, 100] ending at 100, got {value}")
        return value


def _check_http_url(value: str) -> str:
    value = normalise_url(value)
    if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
        raise ValueError(f"must be an http(s) URL such as http://127.0.0.1:11434, got {value!r}")
    return value


class DiagnoseSettings(Section):
    probe_concurrency: list[int] = Field(
        default_factory=lambda: [1, 2, 4, 8], description="Concurrency levels of the diagnosis probe sweep."
    )
    probe_requests_per_level: int = Field(
        8, ge=1, le=1000, description="Probe requests per level (the probe sends at least 2x the level)."
    )
    probe_max_requests: int = Field(64, ge=1, le=10_000, description="Cap on all probe requests of one sweep.")
    probe_max_duration_s: float = Field(
        300.0, gt=0, le=7200, description="Cap on the wall time of one probe sweep."
    )
    probe_max_tokens: int = Field(64, ge=1, le=4096, description="Output tokens each probe request asks for.")
    probe_model: str | None = Field(
        None, description="Model the probe uses; the first model Ollama lists when empty."
    )
    working_hours: tuple[int, int] = Field((9, 18), description="Local hours [start, end) that count as peak.")
    working_days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="Weekdays (0 = Monday) that count as peak."
    )
    reference_concurrency: float = Field(
        3.0, ge=1, le=10_000, description="Concurrency the queueing share is quoted at when no log says better."
    )
    slow_alone_s: float = Field(
        5.0, gt=0, le=3600,
        description="A request slower than this with nothing else running is not a queueing problem.",
    )
    max_reloads_per_day: float = Field(
        4.0, ge=0,
        description="Model reloads after keep-alive expiry per day above which the config is the problem.",
    )


class MonitorSettings(Section):
    probe_concurrency: list[int] = Field(
        default_factory=lambda: [1, 4],
        description="Concurrency levels of the scheduled baseline probe (keep it small).",
    )
    probe_requests_per_level: int = Field(
        6, ge=1, le=1000, description="Probe requests per level (raised to the level so every slot is used)."
    )
    probe_max_tokens: int = Field(64, ge=1, le=4096, description="Output tokens each baseline probe request asks for.")
    probe_max_duration_s: float = Field(
        120.0, gt=0, le=3600, description="Cap on one probe's wall time; later levels are skipped past it."
    )
    probe_model: str | None = Field(
        None, description="Model the probe uses; diagnose.probe_model, loadtest.model, then Ollama's first when empty."
    )
    window_s: float = Field(
        7200.0, gt=0, le=30 * 86400, description="The baseline suite judges the probe samples of this last window."
    )

    @field_validator("probe_concurrency")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if not value or any(v < 1 or v > 256 for v in value):
            raise ValueError(f"must list levels between 1 and 256, got {value}")
        return value


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

