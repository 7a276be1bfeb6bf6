"""Who is calling: the first of bearer token, ``X-O2V-Client`` header, source address, User-Agent, else unnamed.

An unknown bearer token identifies nobody and is not an error (Ollama ignores tokens and OpenAI SDK users put
any string there), unless the configuration requires client keys. Tokens are compared in constant time
against every configured key, so the time taken says nothing about which key, or how much of one, matched.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from o2v.config_sections import ClientDefinition
from o2v.errors import O2VError

How = Literal["token", "header", "address", "user_agent", "unnamed"]
UNNAMED = "unnamed"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$")
_CACHE_LIMIT = 65_536


class Unauthorized(O2VError):
    """A request without a known client key when the gateway requires one."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The client a request belongs to. ``key`` is what sticky routing hashes (the address when unnamed)."""

    name: str
    key: str
    how: How

    @property
    def named(self) -> bool:
        return self.how != "unnamed"

    @property
    def label(self) -> str:
        """The client as samples record it: its name, or ``unnamed:<address>``."""
        return self.name if self.named else f"{UNNAMED}:{self.key}"


class ClientDirectory:
    """Identifies callers from the configured keys and client definitions; built once, read per request."""

    def __init__(
        self,
        api_keys: Mapping[str, str],
        clients: Mapping[str, ClientDefinition],
        *,
        require_keys: bool = False,
    ) -> None:
        self._keys = [(name, key.encode()) for name, key in api_keys.items() if key]
        self.require_keys = require_keys
        self._networks = [
            (ipaddress.ip_network(address, strict=False), name)
            for name, rule in clients.items()
            for address in rule.addresses
        ]
        # Most specific network first, so a client listed by address wins over its subnet's owner.
        self._networks.sort(key=lambda pair: -pair[0].prefixlen)
        self._agents = [(re.compile(rule.user_agent), name) for name, rule in clients.items() if rule.user_agent]
        self._by_address: dict[str, str | None] = {}
        self._unnamed: dict[str, Caller] = {}  # one Caller per unnamed address, not one per request
        self.names = sorted({*api_keys, *clients})

    def identify(
        self, authorization: str | None, header: str | None, remote: str | None, user_agent: str | None
    ) -> Caller:
        token = _bearer(authorization)
        if token is not None:
            name = self._match_key(token)
            if name is not None:
                return Caller(name, name, "token")
        if self.require_keys:
            raise Unauthorized(
                "this gateway requires a client key: send 'Authorization: Bearer <key>' with a key from "
                "cutover.client_api_keys" + (" (the token sent is not one of them)" if token else "")
            )
        if header and _HEADER_NAME.match(header):
            return Caller(header, header, "header")
        address = remote or "unknown"
        name = self._match_address(address)
        if name is not None:
            return Caller(name, name, "address")
        if user_agent:
            for pattern, agent_name in self._agents:
                if pattern.search(user_agent):
                    return Caller(agent_name, agent_name, "user_agent")
        caller = self._unnamed.get(address)
        if caller is None:
            if len(self._unnamed) >= _CACHE_LIMIT:
                self._unnamed.clear()
            caller = self._unnamed[address] = Caller(UNNAMED, address, "unnamed")
        return caller

    def _match_key(self, token: str) -> str | None:
        sent = token.encode()
        found = None
        for name, key in self._keys:  # no early exit: every key is compared every time
            if hmac.compare_digest(sent, key) and found is None:
                found = name
        return found

    def _match_address(self, address: str) -> str | None:
        if address in self._by_address:
            return self._by_address[address]
        name = None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            ip = None
        if ip is not None:
            if ip.version == 6 and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            name = next((n for network, n in self._networks if ip.version == network.version and ip in network),
                        None)  # fmt: skip
        if len(self._by_address) >= _CACHE_LIMIT:
            self._by_address.clear()
        self._by_address[address] = name
        return name


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
