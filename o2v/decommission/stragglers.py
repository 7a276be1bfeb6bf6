"""Who still needs Ollama: direct callers in its access log, routes left on it, options vLLM cannot honour.

Ollama's access log (gin) has one line per finished request with the caller's address, but no model, so a
straggler is named by address, method and path; the models Ollama had loaded are given as the likely ones.
gin prints local wall-clock time without a zone at one-second resolution, so the window is compared in local
time, widened to whole seconds (as o2v.servers.traffic does).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from o2v.decommission.models import Blockers, Straggler
from o2v.servers.logs import AccessRecord, LogRecord
from o2v.store_routing import RoutingTable

# Health and discovery calls (a monitor's probe, docker's healthcheck from inside the container) keep nobody's
# work on Ollama; only calls that use a model do.
MODEL_PATHS = frozenset({
    "/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/api/show", "/api/pull", "/api/create",
    "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
})  # fmt: skip


def is_gateway(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def find_stragglers(
    records: Iterable[LogRecord], *, since: datetime, until: datetime, gateway: list[str], models: list[str]
) -> list[Straggler]:
    """Every model call from an address that is not the gateway's, grouped by (address, method, path)."""
    low = _local_naive(since).replace(microsecond=0)
    high = _local_naive(until).replace(microsecond=0) + timedelta(seconds=1)
    groups: dict[tuple[str, str, str], list[datetime]] = {}
    for record in records:
        if not isinstance(record, AccessRecord) or not low <= record.time <= high:
            continue
        path = record.path.split("?", 1)[0]
        if path not in MODEL_PATHS or is_gateway(record.client_ip, gateway):
            continue
        groups.setdefault((record.client_ip or "unknown", record.method, path), []).append(record.time)
    model = " or ".join(models) if models else "not logged"
    out = [
        Straggler(address=a, method=m, path=p, requests=len(times), first_seen=min(times), last_seen=max(times),
                  model=model)
        for (a, m, p), times in groups.items()
    ]  # fmt: skip
    return sorted(out, key=lambda s: (-s.requests, s.address, s.path))


def routing_blockers(table: RoutingTable) -> tuple[list[str], float]:
    """Named clients the gateway still sends to Ollama, and the unnamed share still on Ollama."""
    on_ollama = sorted(client for client, backend in table.routes.items() if backend == "ollama")
    return on_ollama, max(0.0, 100.0 - table.percent)


def gateway_counters(admin_url: str, token: str | None, *, timeout_s: float = 5.0) -> dict[str, dict[str, int]]:
    """Unhonoured native options per client, from the gateway's admin API (its counters live in memory)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{admin_url.rstrip('/')}/routes", headers=headers, timeout=timeout_s)
    response.raise_for_status()
    raw: dict[str, Any] = response.json().get("ignored_options") or {}
    return {str(c): {str(k): int(v) for k, v in opts.items() if int(v) > 0} for c, opts in raw.items() if opts}


def collect_blockers(
    records: Iterable[LogRecord] | None,
    table: RoutingTable,
    counters: dict[str, dict[str, int]] | None,
    *,
    since: datetime,
    until: datetime,
    gateway: list[str],
    models: list[str],
    unreadable: list[str] | None = None,
) -> Blockers:
    """All blockers at once (a gate lists every reason); None for evidence that could not be read."""
    problems = list(unreadable or [])
    stragglers = (
        find_stragglers(records, since=since, until=until, gateway=gateway, models=models)
        if records is not None else []
    )  # fmt: skip
    named, unnamed = routing_blockers(table)
    used = {c: {k: n for k, n in o.items() if n > 0} for c, o in (counters or {}).items()}
    return Blockers(
        stragglers=stragglers,
        routed_to_ollama=named,
        unnamed_on_ollama_percent=unnamed,
        unhonoured_options={c: o for c, o in used.items() if o},
        unreadable=problems,
    )


def _local_naive(when: datetime) -> datetime:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone().replace(tzinfo=None)
