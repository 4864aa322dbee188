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
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Awaitable[list[IPAddress]]]


class UrlPolicy(Protocol):
    async def allows(self, url: str) -> bool: ...


class PrefixPolicy:
    """Allows URLs that, as they will be requested, start with one of `prefixes`.

    The URL is judged as httpx will send it (dot segments resolved), and refused
    outright when it carries user information, a backslash, an encoded dot, slash or
    backslash, or a control character, so `/files/../api/…` or `/files/%2e%2e/api/…`
    cannot carry the bot token out of the files prefix.
    """

    def __init__(self, prefixes: list[str]) -> None:
        self._prefixes = tuple(prefixes)

    async def allows(self, url: str) -> bool:
        requested = requested_url(url)
        return requested is not None and requested.startswith(self._prefixes)


_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f\\]|%2e|%2f|%5c|%00", re.IGNORECASE)


def requested_url(url: str) -> str | None:
    """The URL httpx would request for `url`, or None when `url` is malformed or tricky."""
    if _UNSAFE_IN_URL.search(url):
        return None
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    if parsed.userinfo or parsed.scheme not in {"http", "https"} or not parsed.host:
        return None
    return str(parsed.copy_with(fragment=None))


async def resolve(host: str) -> list[IPAddress]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


# Ranges Python 3.11's `is_global` still calls global although IANA's special-purpose
# registries say otherwise (https://www.iana.org/assignments/iana-ipv4-special-registry,
# https://www.iana.org/assignments/iana-ipv6-special-registry): IETF protocol
# assignments, 6to4 (it embeds any IPv4 address, private ones included), deprecated
# site-local, NAT64 local use, and the discard-only, ORCHID and documentation blocks.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(network)
    for network in (
        "192.0.0.0/24",
        "2002::/16",
        "fec0::/10",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv4-compatible (`::a.b.c.d`, deprecated by RFC 4291 section 2.5.5.1) and IPv4-translated
# (`::ffff:0:a.b.c.d`, RFC 2765) addresses: Python 3.11 calls `::7f00:1` global, yet a
# stack that still honours them goes to 127.0.0.1. Never public, whatever they carry.
_IPV4_EMBEDDED = (ipaddress.ip_network("::/96"), ipaddress.ip_network("::ffff:0:0:0/96"))


def is_public(address: IPAddress) -> bool:
    """Whether `address` is globally reachable: not private, shared (100.64.0.0/10),
    loopback, link-local, reserved, multicast, site-local, 6to4 or other special use.

    IPv4 addresses inside IPv6 (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) are
    judged by the IPv4 address they carry; the deprecated IPv4-compatible `::a.b.c.d`
    and IPv4-translated `::ffff:0:a.b.c.d` forms are never public.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in _NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.teredo is not None:
            return False
        if any(address in network for network in _IPV4_EMBEDDED):
            return False
    if any(address in network for network in _NOT_GLOBAL):
        return False
    return address.is_global and not address.is_multicast


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
        requested = requested_url(url)
        if requested is None:
            return False
        host = (urlsplit(requested).hostname or "").lower().rstrip(".")
        if not host:
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
