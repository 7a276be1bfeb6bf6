"""Which address a server is published on, and whether that is reachable beyond this machine.

Shared by the settings (which refuse an unauthenticated vLLM beyond loopback), the deploy backends (which bind
the port) and the compose files (which publish it). Private by default: ``localhost`` means the loopback
address, never every interface.
"""

from __future__ import annotations

import ipaddress

LOOPBACK = "127.0.0.1"
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - named so that every use of it is deliberate and easy to find


def bind_address(host: str) -> str:
    """The address to bind for a server that clients reach at ``host``.

    An IP address is bound as given (``127.0.0.1`` stays private, ``10.0.0.5`` is that interface only);
    ``localhost`` (and ``*.localhost``) is the loopback address; any other host name is only reachable if the
    server listens on every interface, so that is what it gets (and what the settings check guards).
    """
    name = host.strip().strip("[]")
    if is_loopback_name(name):
        return LOOPBACK
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return EVERY_INTERFACE
    return name


def is_loopback_name(host: str) -> bool:
    name = host.strip().strip("[]").lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a name or an address) is only reachable from this machine."""
    if not host:
        return False
    name = host.strip().strip("[]")
    if is_loopback_name(name):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def publishes_beyond_loopback(host: str) -> bool:
    return not is_loopback(bind_address(host))
