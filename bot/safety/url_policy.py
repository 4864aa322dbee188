"""Which URLs the bot may fetch attachments from, checked before every request and redirect.

Slack files come only from configured URL prefixes (the bot token must never
reach another host). Helpdesk attachments come from configured hosts, and only
when every address the host resolves to is public: no private, loopback,
link-local (cloud metadata) or reserved address, unless the operator allows a
network explicitly (an on-premises Jira, say).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Awaitable[list[IPAddress]]]


class UrlPolicy(Protocol):
    async def allows(self, url: str) -> bool: ...


class PrefixPolicy:
    """Allows URLs that start with one of `prefixes`."""

    def __init__(self, prefixes: list[str]) -> None:
        self._prefixes = tuple(prefixes)

    async def allows(self, url: str) -> bool:
        return url.startswith(self._prefixes)


async def resolve(host: str) -> list[IPAddress]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def is_public(address: IPAddress) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class PublicHostPolicy:
    """Allows http(s) URLs on `hosts` (or their subdomains) that resolve to public addresses.

    Args:
        hosts: attachment hosts, e.g. `acme.zendesk.com`.
        allowed_networks: private networks the operator trusts anyway.
        resolver: name resolution (the system's by default).
    """

    def __init__(
        self,
        hosts: list[str],
        *,
        allowed_networks: list[IPNetwork] | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self._hosts = tuple(host.lower().strip(".") for host in hosts if host.strip())
        self._networks = tuple(allowed_networks or ())
        self._resolver = resolver

    async def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in {"https", "http"} or not host or parts.username or parts.password:
            return False
        if not any(host == allowed or host.endswith("." + allowed) for allowed in self._hosts):
            return False
        try:
            addresses = await self._resolver(host)
        except (OSError, ValueError):
            return False
        return bool(addresses) and all(self._trusted(address) for address in addresses)

    def _trusted(self, address: IPAddress) -> bool:
        return is_public(address) or any(address in network for network in self._networks)
