"""Neutralise links to hosts outside an allowlist, so an answer cannot carry data out.

A prompt-injected answer could embed thread contents in a link to an attacker's
host; Slack would fetch it to unfurl it, or a user might click it. Such links
are rewritten to a plain, unclickable `host[.]name/…`, dropping path and query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from bot.safety.redaction import Finding, Kind

DEFAULT_ALLOWED_HOSTS = (
    "docs.python.org",
    "pypi.org",
    "github.com",
    "stackoverflow.com",
    "developer.mozilla.org",
    "learn.microsoft.com",
    "docs.aws.amazon.com",
    "cloud.google.com",
    "kubernetes.io",
    "docs.docker.com",
    "nodejs.org",
    "npmjs.com",
    "postgresql.org",
    "redis.io",
    "slack.com",
)

_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>|)\]\"'`]+", re.IGNORECASE)


class LinkGuard:
    """Finds links to hosts not in `allowed_hosts` (subdomains of an allowed host are allowed).

    Example:
        >>> guard = LinkGuard(["docs.python.org"])
        >>> [f.replacement for f in guard.find("see https://evil.example/x?d=secret")]
        ['evil[.]example/…']
    """

    def __init__(self, allowed_hosts: tuple[str, ...] | list[str] = DEFAULT_ALLOWED_HOSTS) -> None:
        self._allowed = tuple(host.lower().strip(".") for host in allowed_hosts if host.strip())

    def allows(self, host: str) -> bool:
        host = host.lower().strip(".")
        return any(host == allowed or host.endswith("." + allowed) for allowed in self._allowed)

    def find(self, text: str) -> Iterator[Finding]:
        for match in _URL.finditer(text):
            url = match.group().rstrip(".,;:!?")
            host = urlsplit(url).hostname or ""
            if self.allows(host):
                continue
            shown = host.replace(".", "[.]") or "link"
            if url.rstrip("/") != f"{urlsplit(url).scheme}://{host}":
                shown += "/…"
            yield Finding(Kind.LINK, match.start(), match.start() + len(url), shown)
