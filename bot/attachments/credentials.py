"""Which request of a download gets which credentials: only the vendor's own download URLs.

A download can start on the vendor's host and be redirected to a storage host
(Zendesk's `content_url` to its temporary download host, Jira's attachment
content to Atlassian's media host, a Slack file to its CDN). Credentials are
asked for on every hop, by the URL of that hop, so they reach the origin they
belong to and nothing else: not another host, not another port or scheme of
the same host, not another path of the vendor's API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx


class Credentials(Protocol):
    def headers_for(self, url: httpx.URL) -> Mapping[str, str]:
        """The headers to send with a request to `url` (empty for any other place)."""
        ...


class NoCredentials:
    """Nothing is sent anywhere (signed links, such as Intercom's CDN, carry their own)."""

    def headers_for(self, url: httpx.URL) -> Mapping[str, str]:
        return {}


_ENCODED = (b"%2e", b"%2f", b"%5c")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"https": 443, "http": 80}.get(url.scheme)
    return (url.scheme, url.host, url.port or default)


@dataclass(frozen=True)
class OriginCredentials:
    """`headers` for URLs on `origin` whose path starts with one of `paths`.

    Args:
        origin: the vendor's own base URL, e.g. `https://acme.zendesk.com`.
        headers: what to send there (an Authorization header, say).
        paths: the download paths on that origin; other paths of the API get nothing.

    Example:
        >>> creds = OriginCredentials("https://acme.zendesk.com", {"Authorization": "Basic x"},
        ...                           paths=("/attachments/token/",))
        >>> dict(creds.headers_for(httpx.URL("https://acme.zdusercontent.com/attachments/token/1")))
        {}
    """

    origin: str
    headers: Mapping[str, str]
    paths: tuple[str, ...] = ("/",)

    def headers_for(self, url: httpx.URL) -> Mapping[str, str]:
        home = httpx.URL(self.origin)
        if _origin(url) != _origin(home) or url.userinfo:
            return {}
        # httpx has resolved dot segments; encoded ones (`%2e%2e`, `%2f`) could still climb
        # out of the download path on a server that decodes them, so they get nothing.
        raw = url.raw_path.split(b"?")[0].lower()
        if not url.path.startswith(self.paths) or any(code in raw for code in _ENCODED):
            return {}
        return self.headers


@dataclass(frozen=True)
class AnyOf:
    """The first of several credential sets that has headers for a URL."""

    choices: tuple[Credentials, ...]

    def headers_for(self, url: httpx.URL) -> Mapping[str, str]:
        for choice in self.choices:
            headers = choice.headers_for(url)
            if headers:
                return headers
        return {}


def for_prefixes(prefixes: Iterable[str], headers: Mapping[str, str]) -> Credentials:
    """Credentials for URLs under any of `prefixes` (Slack's file URL prefixes)."""
    choices: list[Credentials] = []
    for prefix in prefixes:
        url = httpx.URL(prefix)
        origin = f"{url.scheme}://{url.netloc.decode()}"
        choices.append(OriginCredentials(origin, headers, paths=(url.path or "/",)))
    return AnyOf(tuple(choices))
