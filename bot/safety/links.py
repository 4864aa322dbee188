"""Neutralise links to hosts outside an allowlist, so an answer cannot carry data out.

A prompt-injected answer could embed thread contents in a link to an attacker's
host; Slack would fetch it to unfurl it, or a user might click it. Such links
are rewritten to a plain, unclickable `host[.]name/…`, dropping path and query.

A link to an allowed host keeps its scheme, host and path, but not its query
string (`github.com/attacker?d=SECRET` is shown as `github.com/attacker`): a
prompt-injected answer can put any data there, and documentation links do not
need it. A fragment is kept only when it is a short anchor (`#re.sub`, `#L10`),
since anything longer is data in a different place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.safety.redaction import Finding, Kind

# The default allowlist is a setting's default, so it lives with the settings.
from bot.settings import DEFAULT_ALLOWED_HOSTS

# A link with a scheme, or one Slack and browsers would make of `www.…` or of a bare
# `host.tld/path`. Not after a word character, a dot or a slash, so file paths such as
# `/usr/lib/python3.11/site-packages/` and `module.function` stay plain text.
# A protocol-relative `//host.tld/…` is a link too: browsers and Markdown renderers
# resolve it against https.
_URL = re.compile(
    r"(?<![\w@.-])(?:(?:https?|ftp)://|www\.)[^\s<>|)\]\"'`]+"
    r"|(?<![\w@./\\:-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?::\d{1,5})?"
    r"/[^\s<>|)\]\"'`]*"
    r"|(?<![\w@./\\:-])//(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
    r"(?![a-z0-9-])[^\s<>|)\]\"'`]*",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]{0,31}+:)?//", re.IGNORECASE)
# What may follow `#` on an allowed link: an anchor, not data.
_ANCHOR = re.compile(r"#[A-Za-z0-9._:~-]{1,64}")
# Where a browser ends the authority: it reads a backslash as a slash.
_AUTHORITY_END = re.compile(r"[/\\?#]")


def authority_host(url: str) -> tuple[str, bool]:
    """The host a browser would go to, and whether the authority is suspicious.

    Suspicious: user information (`docs.python.org@evil.example`), a backslash, a
    percent escape or anything but letters, digits, dots and hyphens in the host.

    Example:
        >>> authority_host("https://evil.example\\@docs.python.org/x")
        ('evil.example', True)
    """
    rest = _SCHEME.sub("", url, count=1)
    end = _AUTHORITY_END.search(rest)
    authority = rest[: end.start()] if end else rest
    suspicious = "@" in authority or "\\" in url
    host = authority.rpartition("@")[2]
    if host.count(":") == 1:
        host, _, port = host.partition(":")
        suspicious |= not port.isdigit() and port != ""
    host = host.lower().rstrip(".")
    suspicious |= not re.fullmatch(r"[a-z0-9.-]+", host or "-")
    return host, suspicious


class LinkGuard:
    """Finds links to hosts not in `allowed_hosts` (subdomains of an allowed host are allowed).

    A link whose authority is suspicious (user information, backslashes, escapes) is
    neutralised whatever host it names: browsers and Slack disagree on where it goes.

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
            host, suspicious = authority_host(url)
            if not suspicious and self.allows(host):
                yield from _drop_data(url, match.start())
                continue
            shown = re.sub(r"[^a-z0-9.-]", "", host).replace(".", "[.]") or "link"
            if _SCHEME.sub("", url, count=1).rstrip("/").lower() != host:
                shown += "/…"
            yield Finding(Kind.LINK, match.start(), match.start() + len(url), shown)


def _drop_data(url: str, at: int) -> Iterator[Finding]:
    """A finding that removes an allowed link's query string, and any fragment but an anchor."""
    rest = _SCHEME.sub("", url, count=1)
    offset = len(url) - len(rest)
    path_end = len(rest)
    for mark in "?#":
        found = rest.find(mark)
        if found >= 0:
            path_end = min(path_end, found)
    if path_end == len(rest):
        return
    fragment = rest.find("#", path_end)
    keep = ""
    if fragment >= 0 and _ANCHOR.fullmatch(rest[fragment:]):
        if fragment == path_end:
            return  # only an anchor: nothing to drop
        keep = rest[fragment:]
    yield Finding(Kind.LINK, at + offset + path_end, at + len(url), keep)
