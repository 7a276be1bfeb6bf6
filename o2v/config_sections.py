"""The sections of migration.yaml, one model each, every field described and bounded.

``o2v.config.Settings`` assembles them; this module only says what each section may hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


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
    log_source: Literal["docker", "file", "journald", "none"] = Field(
        "docker",
        description="Where Ollama's logs are read: the container's Docker logs, a file, the journal of systemd_unit "
        "(journalctl), or nowhere.",
    )
    log_file: Path | None = Field(None, description="Path of Ollama's log file when log_source is 'file'.")
    timeout_s: float = Field(30.0, gt=0, le=3600, description="Client timeout the team's tools use, in seconds.")
    host: Literal["docker", "systemd", "command"] = Field(
        "docker",
        description="How the decommission stops Ollama and the rollback to Ollama restarts it: its Docker container "
        "(container_name), a systemd unit (systemd_unit), or the operator's own commands (start_command, "
        "stop_command).",
    )
    systemd_unit: str = Field(
        "ollama.service", min_length=1, description="systemd unit running Ollama when host is 'systemd'."
    )
    systemctl_command: list[str] = Field(
        default_factory=lambda: ["systemctl"], min_length=1,
        description="How o2v calls systemctl when host is 'systemd', e.g. [sudo, -n, systemctl] without root.",
    )  # fmt: skip
    start_command: list[str] = Field(
        default_factory=list,
        description="Command (argv, no shell) that starts Ollama and returns, when host is 'command'; e.g. "
        "[supervisorctl, start, ollama].",
    )
    stop_command: list[str] = Field(
        default_factory=list,
        description="Command (argv, no shell) that stops Ollama, when host is 'command'; it must not delete the "
        "models. e.g. [supervisorctl, stop, ollama].",
    )
    command_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="How long a start, stop or systemctl command, and the stop itself, may take."
    )
    models_dir: Path | None = Field(
        None,
        description="Ollama's models directory, kept by the decommission (systemd and command hosts); empty: "
        "OLLAMA_MODELS from the unit's environment, else /usr/share/ollama/.ollama/models (the Linux installer's).",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value)

    @model_validator(mode="after")
    def _log_file_needed(self) -> OllamaSettings:
        if self.log_source == "file" and self.log_file is None:
            raise ValueError("log_file is required when log_source is 'file'")
        return self

    @model_validator(mode="after")
    def _commands_needed(self) -> OllamaSettings:
        if self.host == "command" and not (self.start_command and self.stop_command):
            raise ValueError(
                "host 'command' needs both start_command and stop_command (argv lists, e.g. [supervisorctl, stop, "
                "ollama]), so that the decommission can stop Ollama and a rollback start it again"
            )
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
    allow_unauthenticated_public: bool = Field(
        False,
        description="Allow publishing vLLM beyond loopback (vllm.host not 127.0.0.1/localhost) without "
        "vllm.api_key: anyone who reaches the port can then use the GPU. Off: such a config is refused.",
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

    @model_validator(mode="after")
    def _no_open_door(self) -> VLLMSettings:
        from o2v.exposure import bind_address, publishes_beyond_loopback

        if publishes_beyond_loopback(self.host) and self.api_key is None and not self.allow_unauthenticated_public:
            raise ValueError(
                f"vLLM would be published on {bind_address(self.host)} (vllm.host {self.host!r}), beyond this "
                "machine, without vllm.api_key: anyone who reaches the port could use it. Set vllm.api_key (clients "
                "send it as a bearer token), use vllm.host: 127.0.0.1, or set "
                "vllm.allow_unauthenticated_public: true to accept the exposure"
            )
        return self


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
    requests_per_level: int = Field(
        200,
        ge=1,
        le=100_000,
        description="Requests per level; 200 lets the gate resolve a 15 % p95 difference (docs/checks.md).",
    )
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
    min_samples: int = Field(
        72,
        ge=1,
        description="Fewer successful samples than this (per judged backend, and per load level compared) is "
        "inconclusive; 72 is the least that gives a distribution-free 95 % interval of a p95 (docs/checks.md).",
    )
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
    ratio_tolerance: float = Field(
        0.1,
        ge=0,
        le=10,
        description="Slack on every vLLM/Ollama ratio limit: p95 ratios are held to limit x (1 + tolerance), "
        "throughput ratios to limit / (1 + tolerance).",
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1, description="Two-sided confidence of the intervals the vLLM-vs-Ollama gate judges."
    )
    bootstrap_resamples: int = Field(
        1000, ge=200, le=100_000, description="Bootstrap resamples per interval (more: steadier bounds, slower)."
    )
    bootstrap_seed: int = Field(0, description="Seed of the bootstrap, so the same samples give the same verdict.")
    max_error_rate_increase: float = Field(
        0.01,
        ge=0,
        le=1,
        description="vLLM's error rate may exceed Ollama's at the same load by at most this much (0..1).",
    )
    on_inconclusive: Literal["pause", "fail", "accept"] = Field(
        "pause",
        description="An inconclusive validation in a Prefect flow run: pause for a person (re-measure, accept, "
        "roll back); 'fail' stops the phase and leaves vLLM running; 'accept' lets it pass (audited). Outside a "
        "flow run 'pause' acts as 'fail'.",
    )


class SlackSettings(Section):
    bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-...); console output when empty.")
    channel: str = Field("#llm-migration", description="Channel for phase messages and approvals.")
    base_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (a local server in tests).")
    approval_timeout_s: float = Field(3600.0, gt=0, le=7 * 86400, description="No answer in time means 'no'.")
    app_token: SecretStr | None = Field(
        None, description="App-level token (xapp-...) for Socket Mode, where approval clicks arrive; from the env."
    )
    approvers: list[str] = Field(
        default_factory=list,
        description="Who may approve in Slack: user ids (U...) and user-group ids (S...); empty refuses everyone.",
    )

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None and bool(self.bot_token.get_secret_value())

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        # The bot token travels in every request: plain http only to a stand-in on this machine (tests).
        from urllib.parse import urlparse

        from o2v.exposure import is_loopback

        parsed = urlparse(value.strip())
        if parsed.scheme == "https" and parsed.hostname:
            return value
        if parsed.scheme == "http" and is_loopback(parsed.hostname):
            return value
        raise ValueError(
            "must be an https URL such as https://slack.com/api/ (http only for a loopback host such as "
            f"http://127.0.0.1:PORT/api/), got {value!r}"
        )


class StoreSettings(Section):
    url: str = Field(
        "sqlite:///.o2v/o2v.db",
        description="SQLAlchemy URL of the results store (postgresql://user:password@host/db works too).",
    )
    batch_size: int = Field(500, ge=1, le=100_000, description="Samples written per insert.")
    lock_ttl_s: float = Field(
        120.0, ge=5, le=86_400,
        description="A run's lock on its migration expires this long after its last heartbeat (a dead run's lock).",
    )
    lock_wait_s: float = Field(
        0.0, ge=0, le=86_400,
        description="How long a run waits for another run's lock on the same migration before it is refused.",
    )
    data_docs_base_url: str | None = Field(
        None,
        description="URL where the GX project's data_docs folder is served (e.g. https://ci.example/o2v-docs/); "
        "Slack messages and artifacts link there. File paths when empty.",
    )

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


class ClientDefinition(Section):
    """How the gateway recognises one named client when it sends no token and no X-O2V-Client header."""

    addresses: list[str] = Field(
        default_factory=list, description="Source addresses or CIDRs the client calls from (10.0.3.7, 10.0.4.0/24)."
    )
    user_agent: str | None = Field(
        None, description="Regular expression searched in the User-Agent header (e.g. '^ci-bot/')."
    )

    @field_validator("addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"must be IP addresses or CIDRs such as 10.0.4.0/24, got {item!r}") from exc
        return [item.strip() for item in value]

    @field_validator("user_agent")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        import re

        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"must be a regular expression, got {value!r}: {exc}") from exc
        return value


class StageSettings(Section):
    """One cutover stage: who moves to vLLM when it starts, and how long and how often it is watched."""

    name: str | None = Field(None, description="Shown in approvals and reports; 'stage-<n>: <what moves>' when empty.")
    clients: list[str] = Field(
        default_factory=list, description="Named clients (cutover.clients / client_api_keys / X-O2V-Client) moved."
    )
    percent: float | None = Field(
        None, ge=0, le=100,
        description="Share of unnamed clients on vLLM from this stage on; 100 also moves every named client.",
    )  # fmt: skip
    watch_window_s: float | None = Field(None, gt=0, description="Watch time; cutover.watch_window_s when empty.")
    interval_s: float | None = Field(
        None, gt=0, description="Analysis interval; cutover.analysis_interval_s when empty."
    )
    min_samples: int | None = Field(
        None, ge=1, le=1_000_000, description="Successful requests per side needed; thresholds.min_samples when empty."
    )


class CutoverSettings(Section):
    stages_percent: list[int] = Field(
        default_factory=lambda: [10, 50, 100],
        description="Shorthand: one stage per share of unnamed clients (ignored when `stages` is given).",
    )
    watch_window_s: float = Field(900.0, gt=0, description="Observation time per stage before promotion.")
    gateway_port: int = Field(11435, ge=1, le=65535, description="Port of the cutover gateway.")
    decommission_after_days: float = Field(7.0, ge=0, le=365, description="Stable days before Ollama is retired.")
    client_api_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Bearer tokens the gateway accepts, by client name."
    )
    clients: dict[str, ClientDefinition] = Field(
        default_factory=dict,
        description="Named clients the gateway recognises by source address/CIDR or User-Agent (name -> rule).",
    )

    @field_validator("stages_percent")
    @classmethod
    def _stages(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 < v <= 100 for v in value) or value != sorted(value) or value[-1] != 100:
            raise ValueError(f"must be increasing percentages in (0, 100] ending at 100, got {value}")
        return value

    stages: list[StageSettings] = Field(
        default_factory=list,
        description="The stages in order (named clients and/or a share of unnamed ones); stages_percent when empty.",
    )
    analysis_interval_s: float = Field(60.0, gt=0, description="How often live traffic is judged during a stage.")
    failure_limit: int = Field(
        0, ge=0, le=100, description="Failed intervals tolerated per stage; one more rolls back (error rate: none)."
    )
    inconclusive_limit: int = Field(
        3, ge=0, le=1000, description="Inconclusive intervals tolerated per stage; one more pauses for a person."
    )
    consecutive_error_limit: int = Field(
        4, ge=0, le=100, description="Measurement errors in a row tolerated; one more rolls back."
    )
    rollback_to: Literal["ollama", "previous"] = Field(
        "ollama", description="Where an automatic rollback sends clients: all to Ollama, or the previous stage."
    )

    @model_validator(mode="after")
    def _one_way_to_give_stages(self) -> CutoverSettings:
        # An exported config repeats the default shorthand; only a shorthand someone changed conflicts.
        if self.stages and "stages_percent" in self.model_fields_set and self.stages_percent != [10, 50, 100]:
            raise ValueError("give either cutover.stages or cutover.stages_percent, not both")
        percent = 0.0
        for index, stage in enumerate(self.stages, 1):
            if not stage.clients and stage.percent is None:
                raise ValueError(f"stage {index} moves nobody: give it clients and/or a percent")
            if stage.percent is not None and stage.percent < percent:
                raise ValueError(f"stage {index}: percent {stage.percent:g} is below an earlier stage's {percent:g}")
            percent = stage.percent if stage.percent is not None else percent
        if self.stages and percent < 100:
            raise ValueError("the last stage must reach percent 100, so that every client ends on vLLM")
        return self


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


class GatewaySettings(Section):
    """The cutover gateway: where it listens, where the two backends are, limits and timeouts."""

    listen: str | None = Field(
        None, description="HOST:PORT the gateway serves clients on; 0.0.0.0 on cutover.gateway_port when empty."
    )
    admin_listen: str = Field(
        "127.0.0.1:11436", description="HOST:PORT of the admin API (routes, /metrics, /health); never the public one."
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token the admin API requires for routing changes; admin changes refused when empty."
    )
    ollama_url: str | None = Field(
        None, description="Ollama as the gateway reaches it (its internal address); ollama.url when empty."
    )
    vllm_url: str | None = Field(None, description="vLLM as the gateway reaches it; vllm.host:vllm.port when empty.")
    inventory_path: Path | None = Field(
        None, description="Inventory JSON (o2v inventory --json) joined into /api/tags and /api/show for vLLM."
    )
    require_client_keys: bool = Field(
        False, description="Refuse (401) requests whose bearer token is not one of cutover.client_api_keys."
    )
    max_body_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, le=2**31, description="Largest request body accepted (images make bodies big)."
    )
    connect_timeout_s: float = Field(5.0, gt=0, le=600, description="Time allowed to connect to a backend.")
    response_timeout_s: float = Field(
        600.0, gt=0, le=7200, description="Time allowed for a backend's response headers (model loads included)."
    )
    idle_timeout_s: float = Field(
        300.0, gt=0, le=7200, description="Longest silence allowed between two chunks of a backend's response."
    )
    refresh_s: float = Field(
        0.5, gt=0, le=1.0, description="How often each replica checks the stored routing table's version."
    )
    models_refresh_s: float = Field(
        10.0, gt=0, le=3600, description="How often the gateway re-reads the models vLLM serves (/v1/models)."
    )

    @field_validator("listen", "admin_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_host_port(value)
        return value

    @field_validator("ollama_url", "vllm_url")
    @classmethod
    def _backend_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value)


def parse_host_port(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:80`` for IPv6) as a pair; ValueError with the expected form otherwise."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be HOST:PORT such as 0.0.0.0:11434, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class DecommissionSettings(Section):
    """Retiring Ollama after the cutover: who counts as the gateway, and how long a rollback to Ollama may take."""

    gateway_addresses: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Addresses or networks (CIDR) Ollama sees the gateway's requests come from; any other caller "
        "in Ollama's access log since the cutover is a straggler that blocks the decommission.",
    )
    ollama_health_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="How long a rollback to Ollama waits for the restarted Ollama to answer."
    )

    @field_validator("gateway_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"expected an IP address or CIDR network such as 172.18.0.0/16, got {item!r}") from exc
        return value
