"""Typed inventory: what Ollama serves, how it is configured, and who calls it from where."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Api = Literal["native", "openai"]


class OllamaModel(BaseModel):
    """One model from ``/api/tags``, completed with ``/api/show``'s GGUF facts."""

    name: str
    digest: str = ""
    size_bytes: int = 0
    format: str = ""
    family: str = ""
    parameter_size: str = Field(default="", description="As Ollama prints it, e.g. '8.0B'.")
    quantization_level: str = Field(default="", description="GGUF quantization, e.g. 'Q4_K_M'.")
    capabilities: list[str] = Field(default_factory=list)
    architecture: str | None = Field(default=None, description="GGUF general.architecture, e.g. 'llama'.")
    parameter_count: int | None = None
    context_length: int | None = Field(
        default=None, description="Trained context length (<arch>.context_length)."
    )
    block_count: int | None = None
    embedding_length: int | None = None
    head_count: int | None = None
    head_count_kv: int | None = None
    key_length: int | None = None
    vocab_size: int | None = None
    num_ctx: int | None = Field(default=None, description="num_ctx set in the Modelfile parameters, if any.")
    show_error: str | None = Field(
        default=None, description="Why /api/show failed for this model, if it did."
    )


class LoadedModel(BaseModel):
    """One entry of ``/api/ps``: loaded now, with the VRAM it holds."""

    name: str
    size_bytes: int = 0
    size_vram_bytes: int = 0
    context_length: int | None = None
    expires_at: str | None = None


class OllamaServerSettings(BaseModel):
    """OLLAMA_* settings and where each came from ('container env', 'server config log line')."""

    values: dict[str, str] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict, description="setting -> where it was read")

    def get_int(self, key: str) -> int | None:
        try:
            return int(self.values[key])
        except (KeyError, ValueError):
            return None


class IntegrationPoint(BaseModel):
    """A place in a source tree that talks to Ollama."""

    root: str = Field(default="", description="The scanned root (absolute), so patches can find the file again.")
    file: str = Field(..., description="Path relative to the scanned root.")
    line: int = Field(..., ge=1, description="1-based line (within the cell for notebooks).")
    cell: int | None = Field(default=None, description="0-based notebook cell index, for .ipynb files.")
    kind: str = Field(
        default=..., description="native-endpoint | ollama-sdk | openai-sdk | openai-endpoint | ollama-url"
    )
    api: Api
    evidence: str = Field(..., description="The matching line, stripped and shortened.")


class ClientActivity(BaseModel):
    """One client address seen in Ollama's access log."""

    client_ip: str
    requests: int = 0
    errors: int = 0
    native_requests: int = 0
    openai_requests: int = 0
    other_requests: int = 0
    paths: list[str] = Field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    @property
    def api(self) -> str:
        kinds = [k for k, n in (("native", self.native_requests), ("openai", self.openai_requests)) if n]
        return "+".join(kinds) or "other"


class Inventory(BaseModel):
    ollama_url: str
    ollama_version: str | None = None
    models: list[OllamaModel] = Field(default_factory=list)
    loaded: list[LoadedModel] = Field(default_factory=list)
    settings: OllamaServerSettings = Field(default_factory=OllamaServerSettings)
    integration_points: list[IntegrationPoint] = Field(default_factory=list)
    clients: list[ClientActivity] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="Sources that could not be read, and why.")
    taken_at: datetime = Field(default_factory=datetime.now)

    def to_markdown(self) -> str:
        """Headings and tables for the Prefect UI's artifact (o2v.inventory.report writes it)."""
        from o2v.inventory.report import to_markdown

        return to_markdown(self)
