"""Ollama's effective settings: the container's environment and the ``server config`` line it logs at start.

Why both: the environment shows what was asked for, the log line what the running server actually uses
(defaults included). The log line wins where both have a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from o2v.inventory.types import OllamaServerSettings
from o2v.redact import redact
from o2v.servers.logs import LogRecord, server_config


def from_container_env(container_name: str, client: Any | None = None) -> tuple[dict[str, str], str | None]:
    """OLLAMA_* variables of a container; (values, problem) where problem says why none could be read."""
    try:
        if client is None:
            import docker

            client = docker.from_env(timeout=5)
        container = client.containers.get(container_name)
    except Exception as exc:  # noqa: BLE001 - engine missing, container missing: both are facts to report
        return {}, f"container {container_name!r} environment not read: {exc}"
    env = container.attrs.get("Config", {}).get("Env") or []
    values = {}
    for item in env:
        key, _, value = item.partition("=")
        if key.startswith("OLLAMA_"):
            values[key] = value
    return values, None


def merge_settings(env: dict[str, str], records: Iterable[LogRecord] | None) -> OllamaServerSettings:
    settings = OllamaServerSettings()
    for key, value in env.items():
        settings.values[key] = redact(value)
        settings.sources[key] = "container env"
    if records is not None:
        for key, value in server_config(records).items():
            settings.values[key] = redact(str(value))
            settings.sources[key] = "server config log line"
    return settings
