"""The gateway's resolved configuration: the config file's sections, with command-line flags applied on top."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from o2v.config import Settings
from o2v.config_sections import ClientDefinition, normalise_url, parse_host_port


class GatewayConfig(BaseModel):
    """Everything one gateway replica needs, nothing else (so tests can build one without a config file)."""

    listen_host: str = "127.0.0.1"
    listen_port: int = Field(11434, ge=0, le=65535)
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(11436, ge=0, le=65535)
    admin_token: SecretStr | None = None
    ollama_url: str
    vllm_url: str
    vllm_api_key: SecretStr | None = None
    served_names: dict[str, str] = Field(default_factory=dict, description="Ollama tag -> vLLM served name.")
    api_keys: dict[str, SecretStr] = Field(default_factory=dict)
    clients: dict[str, ClientDefinition] = Field(default_factory=dict)
    require_client_keys: bool = False
    max_body_bytes: int = 64 * 1024 * 1024
    connect_timeout_s: float = 5.0
    response_timeout_s: float = 600.0
    idle_timeout_s: float = 300.0
    refresh_s: float = 0.5
    models_refresh_s: float = 10.0
    inventory_path: Path | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, listen: str | None = None, ollama: str | None = None, vllm: str | None = None
    ) -> GatewayConfig:
        g = settings.gateway
        host, port = parse_host_port(listen or g.listen or f"0.0.0.0:{settings.cutover.gateway_port}")
        admin_host, admin_port = parse_host_port(g.admin_listen)
        return cls(
            listen_host=host,
            listen_port=port,
            admin_host=admin_host,
            admin_port=admin_port,
            admin_token=g.admin_token,
            ollama_url=normalise_url(ollama or g.ollama_url or settings.ollama.url),
            vllm_url=normalise_url(vllm or g.vllm_url or settings.vllm.url),
            vllm_api_key=settings.vllm.api_key,
            served_names={tag: m.served_name or tag for tag, m in settings.models.items()},
            api_keys=dict(settings.cutover.client_api_keys),
            clients=dict(settings.cutover.clients),
            require_client_keys=g.require_client_keys,
            max_body_bytes=g.max_body_bytes,
            connect_timeout_s=g.connect_timeout_s,
            response_timeout_s=g.response_timeout_s,
            idle_timeout_s=g.idle_timeout_s,
            refresh_s=g.refresh_s,
            models_refresh_s=g.models_refresh_s,
            inventory_path=g.inventory_path,
        )
