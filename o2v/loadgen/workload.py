"""What a load test sends: one validated Workload, built from flags, settings or a flow parameter.

The workload is the whole contract between the caller and the runner, so every knob that changes a measured
figure (levels, request count, tokens, sampling, timeouts, arrival process, seed) lives here and is recorded
with the result; a report can always say exactly what was measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from o2v.config import normalise_url

DEFAULT_LEVELS = [1, 5, 10, 20, 50]
MIN_REQUESTS_FOR_P95 = 20

Api = Literal["openai", "ollama"]


class Workload(BaseModel):
    """A load test: where to send, what to send, and how requests arrive."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., description="Server base URL; a trailing / or /v1 is stripped.")
    api: Api = Field("openai", description="'openai': /v1/chat/completions (SSE); 'ollama': /api/chat (NDJSON).")
    model: str = Field(..., min_length=1, description="Model name as the server knows it.")
    backend: Literal["ollama", "vllm"] = Field("vllm", description="Which server this is, for the samples.")
    source: Literal["loadtest", "probe"] = Field("loadtest", description="Sample source recorded in the store.")
    client: str = Field("o2v-loadgen", description="Client name recorded on every sample.")
    concurrency: list[int] = Field(default_factory=lambda: list(DEFAULT_LEVELS), description="Levels to sweep.")
    requests_per_level: int = Field(
        MIN_REQUESTS_FOR_P95,
        ge=1,
        le=1_000_000,
        description="Requests measured per level; raised to the level's concurrency so every slot is used.",
    )
    min_requests_per_slot: int = Field(
        1,
        ge=1,
        le=1000,
        description="Concurrency mode: at least this many requests per slot, so a level is not one single burst.",
    )
    mode: Literal["concurrency", "rate"] = Field(
        "concurrency",
        description="'concurrency': N requests always in flight; 'rate': requests arrive at rate_rps.",
    )
    rate_rps: list[float] = Field(
        default_factory=list,
        description="Arrival rates (requests/s) to sweep in 'rate' mode; one level each.",
    )
    poisson: bool = Field(True, description="Rate mode: exponential gaps (Poisson arrivals), else constant gaps.")
    max_concurrency: int | None = Field(
        None, ge=1, le=100_000, description="Rate mode: cap on requests in flight; late ones wait for a slot."
    )
    seed: int = Field(0, description="Seed for prompt order and Poisson gaps: the same seed sends the same run.")
    ramp_up_s: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="Concurrency mode: start slots evenly over this time; rate mode: ramp the rate.",
    )
    warmup_requests: int = Field(2, ge=0, le=10_000, description="Unmeasured requests sent before the first level.")
    max_tokens: int = Field(128, ge=1, le=1_000_000, description="Output tokens requested per request.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling; server default when empty.")
    ignore_eos: bool = Field(
        False, description="vLLM only: keep generating to max_tokens so every request has the same length."
    )
    request_timeout_s: float = Field(120.0, gt=0, le=86_400, description="Per-request total timeout.")
    connect_timeout_s: float = Field(10.0, gt=0, le=600, description="Per-request connect timeout.")
    prompts: list[str] | None = Field(None, description="Prompts to cycle through; the built-in set when empty.")
    prompts_file: Path | None = Field(None, description="JSONL prompts file ({'prompt': ...} per line).")
    api_key: SecretStr | None = Field(None, description="Bearer token sent as Authorization (vLLM --api-key).")
    preflight: bool = Field(True, description="Check URL, API type and model once before sending any load.")
    slo_ttft_ms: float | None = Field(None, gt=0, description="Goodput SLO on time to first token; none when empty.")
    slo_tpot_ms: float | None = Field(None, gt=0, description="Goodput SLO on time per output token.")
    slo_e2e_ms: float | None = Field(None, gt=0, description="Goodput SLO on end-to-end latency.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = normalise_url(value)
        if not value.startswith(("http://", "https://")) or not value.split("://", 1)[1]:
            raise ValueError(f"must be an http(s) URL such as http://127.0.0.1:8000, got {value!r}")
        return value

    @field_validator("concurrency")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("must list at least one concurrency level, got []")
        bad = [v for v in value if v < 1 or v > 100_000]
        if bad:
            raise ValueError(f"each level must be between 1 and 100000, got {bad}")
        return value

    @field_validator("rate_rps", mode="before")
    @classmethod
    def _rates(cls, value: Any) -> Any:
        if isinstance(value, int | float):
            value = [value]
        if value is None:
            return []
        bad = [v for v in value if not 0 < float(v) <= 1_000_000]
        if bad:
            raise ValueError(f"each rate must be > 0 and <= 1000000 requests/s, got {bad}")
        return value

    @model_validator(mode="after")
    def _mode(self) -> Workload:
        if self.mode == "rate" and not self.rate_rps:
            raise ValueError("mode 'rate' needs rate_rps (one or more arrival rates in requests/s)")
        if self.prompts is not None and not [p for p in self.prompts if p.strip()]:
            raise ValueError("prompts must hold at least one non-empty prompt when given")
        return self

    # -- derived -----------------------------------------------------------------------------------
    def levels(self) -> list[tuple[int, float | None]]:
        """(concurrency cap, rate) per level, in the order they run."""
        if self.mode == "rate":
            cap = self.max_concurrency or 0
            return [(cap, float(rate)) for rate in self.rate_rps]
        return [(c, None) for c in self.concurrency]

    def requests_for(self, concurrency: int) -> int:
        if self.mode == "rate":
            return self.requests_per_level
        return max(self.requests_per_level, concurrency * self.min_requests_per_slot)

    def warnings(self) -> list[str]:
        """Problems that do not stop the run but weaken its figures; printed first and kept in the result."""
        out: list[str] = []
        if self.requests_per_level < MIN_REQUESTS_FOR_P95:
            out.append(
                f"{self.requests_per_level} requests per level is too few for a meaningful p95: "
                f"use --requests {MIN_REQUESTS_FOR_P95} or more"
            )
        return out

    def endpoint_path(self) -> str:
        return "/api/chat" if self.api == "ollama" else "/v1/chat/completions"


def workload_from_settings(settings: Any, *, url: str, api: Api, model: str, backend: str, **extra: Any) -> Workload:
    """The configured load-test section applied to one server: both sides of a comparison get one load."""
    lt = settings.loadtest
    fields: dict[str, Any] = {
        "url": url,
        "api": api,
        "model": model,
        "backend": backend,
        "concurrency": list(lt.concurrency),
        "requests_per_level": lt.requests_per_level,
        "max_tokens": lt.max_tokens,
        "temperature": lt.temperature,
        "request_timeout_s": lt.request_timeout_s,
        "warmup_requests": lt.warmup_requests,
        "prompts_file": lt.prompts_file,
        "seed": lt.seed,
        "slo_ttft_ms": settings.thresholds.slo_ttft_ms,
        "slo_tpot_ms": settings.thresholds.slo_tpot_ms,
        "slo_e2e_ms": settings.thresholds.slo_e2e_ms,
    }
    fields.update(extra)
    return Workload(**fields)
