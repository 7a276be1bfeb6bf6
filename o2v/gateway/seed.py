"""Client definitions seeded from the inventory: every address in Ollama's access log becomes a named client.

The cutover moves named clients one stage at a time, so the list starts from who actually called Ollama.
Addresses an existing definition already covers (by address or CIDR) are left to it; the new names can be
renamed by hand afterwards (``10-0-3-7`` -> ``ci-bot``), the address is what identifies the caller.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

import yaml

from o2v.config_sections import ClientDefinition
from o2v.inventory.types import ClientActivity


def seed_clients(
    activity: Iterable[ClientActivity], existing: Mapping[str, ClientDefinition] | None = None
) -> dict[str, ClientDefinition]:
    """``existing`` plus one client per new address, busiest first (as the inventory orders them)."""
    clients = dict(existing or {})
    covered = [ipaddress.ip_network(a, strict=False) for rule in clients.values() for a in rule.addresses]
    for row in activity:
        try:
            ip = ipaddress.ip_address(row.client_ip)
        except ValueError:
            continue  # "unknown" or a hostname: nothing the gateway can match on
        if any(ip.version == net.version and ip in net for net in covered):
            continue
        name, n = client_name(row.client_ip), 1
        while name in clients:  # two addresses that spell the same name: keep both, numbered
            n += 1
            name = f"{client_name(row.client_ip)}-{n}"
        clients[name] = ClientDefinition(addresses=[row.client_ip])
        covered.append(ipaddress.ip_network(row.client_ip))
    return clients


def client_name(address: str) -> str:
    """A stable name for an address: ``client-10-0-3-7`` (``client-fd00-1`` for ``fd00::1``)."""
    return "client-" + re.sub(r"[^0-9A-Za-z]+", "-", address).strip("-")


def clients_yaml(clients: Mapping[str, ClientDefinition]) -> str:
    """The ``cutover.clients`` block to paste into migration.yaml."""
    data = {name: rule.model_dump(exclude_defaults=True) for name, rule in clients.items()}
    return yaml.safe_dump({"cutover": {"clients": data}}, sort_keys=False)
