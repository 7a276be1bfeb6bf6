"""Inventory: every model Ollama serves, its settings, and every client that calls it.

``take_inventory(settings, scan_paths=[...], log_records=None) -> Inventory``. Sources that cannot be read
(no Docker engine, no log) are listed in ``Inventory.problems``; an unreachable Ollama raises
ServerUnreachable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx

from o2v.config import Settings
from o2v.errors import O2VError
from o2v.inventory.clients import clients_from_log
from o2v.inventory.models import collect_models
from o2v.inventory.report import to_markdown, write_reports
from o2v.inventory.scan import classify_line, scan_tree
from o2v.inventory.server_settings import from_container_env, merge_settings
from o2v.inventory.types import (
    ClientActivity,
    IntegrationPoint,
    Inventory,
    LoadedModel,
    OllamaModel,
    OllamaServerSettings,
)
from o2v.redact import redact
from o2v.servers.logs import LogRecord


def _read_log_records(
    settings: Settings, docker_client: Any | None, problems: list[str]
) -> list[LogRecord] | None:
    from o2v.servers.log_source import ollama_log_records

    if settings.ollama.log_source == "none":
        return None
    try:
        return list(ollama_log_records(settings.ollama, docker_client=docker_client))
    except (O2VError, OSError) as exc:
        problems.append(f"Ollama log not read ({settings.ollama.log_source}): {exc}")
    return None


def take_inventory(
    settings: Settings,
    scan_paths: Sequence[Path | str] = (),
    log_records: Iterable[LogRecord] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    docker_client: Any | None = None,
    read_container: bool = True,
) -> Inventory:
    """Ask Ollama, read its settings and log, scan the source trees; one typed result."""
    version, models, loaded, problems = collect_models(
        settings.ollama.url, timeout_s=settings.ollama.timeout_s, transport=transport
    )
    env: dict[str, str] = {}
    if read_container and settings.ollama.log_source == "docker":
        env, problem = from_container_env(settings.ollama.container_name, docker_client)
        if problem:
            problems.append(problem)
    records = (
        list(log_records) if log_records is not None else _read_log_records(settings, docker_client, problems)
    )
    points: list[IntegrationPoint] = []
    for root in scan_paths:
        path = Path(root)
        if not path.exists():
            problems.append(f"scan path {path} does not exist")
            continue
        points.extend(scan_tree(path))
    return Inventory(
        ollama_url=redact(settings.ollama.url),
        ollama_version=version,
        models=models,
        loaded=loaded,
        settings=merge_settings(env, records),
        integration_points=points,
        clients=clients_from_log(records or []),
        problems=problems,
    )


__all__ = [
    "ClientActivity",
    "IntegrationPoint",
    "Inventory",
    "LoadedModel",
    "OllamaModel",
    "OllamaServerSettings",
    "classify_line",
    "clients_from_log",
    "scan_tree",
    "take_inventory",
    "to_markdown",
    "write_reports",
]
