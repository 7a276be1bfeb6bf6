"""Who calls Ollama: client addresses and paths from its access log (gin lines)."""

from __future__ import annotations

from collections.abc import Iterable

from o2v.inventory.types import ClientActivity
from o2v.servers.logs import AccessRecord, LogRecord


def clients_from_log(records: Iterable[LogRecord]) -> list[ClientActivity]:
    """One row per client address, busiest first; native = /api/*, openai = /v1/*."""
    by_ip: dict[str, ClientActivity] = {}
    paths: dict[str, set[str]] = {}
    for record in records:
        if not isinstance(record, AccessRecord):
            continue
        ip = record.client_ip or "unknown"
        row = by_ip.setdefault(ip, ClientActivity(client_ip=ip))
        row.requests += 1
        if record.status >= 400:
            row.errors += 1
        path = record.path.split("?", 1)[0]
        if path.startswith("/api/"):
            row.native_requests += 1
        elif path.startswith("/v1/"):
            row.openai_requests += 1
        else:
            row.other_requests += 1
        paths.setdefault(ip, set()).add(f"{record.method} {path}")
        if row.first_seen is None or record.time < row.first_seen:
            row.first_seen = record.time
        if row.last_seen is None or record.time > row.last_seen:
            row.last_seen = record.time
    for ip, row in by_ip.items():
        row.paths = sorted(paths[ip])
    return sorted(by_ip.values(), key=lambda r: (-r.requests, r.client_ip))
