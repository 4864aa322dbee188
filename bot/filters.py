"""Make the model's answer safe to show, piece by piece as it streams.

A `FilterStream` holds back the unfinished last word of what it has seen, so a
secret is never shown half-written before the rest of it arrives.
"""

from __future__ import annotations

import re
from typing import Protocol

REDACTED = "[redacted]"


class FilterStream(Protocol):
    def feed(self, text: str) -> str:
        """Take the next piece of the answer; return the text now safe to show."""
        ...

    def finish(self) -> str:
        """The answer ended: return whatever was held back, made safe."""
        ...


class ReplyFilter(Protocol):
    def open(self) -> FilterStream:
        """A fresh stream for one answer."""
        ...


_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bxox[abepors]-[A-Za-z0-9-]{8,}"),  # Slack tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWTs
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail addresses
)
# scheme://user:password@host: keep the user and host, hide the password.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)", re.IGNORECASE)


def redact(text: str) -> str:
    """Replace every secret the patterns know in `text` with `[redacted]`."""
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}\3", text)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class _WordBoundaryStream:
    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> str:
        self._pending += text
        cut = max(self._pending.rfind(" "), self._pending.rfind("\n"), self._pending.rfind("\t"))
        if cut < 0:
            return ""
        ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
        return redact(ready)

    def finish(self) -> str:
        ready, self._pending = self._pending, ""
        return redact(ready)


class SecretRedactingFilter:
    """Redacts tokens, keys, passwords in URLs and e-mail addresses from answers."""

    def open(self) -> FilterStream:
        return _WordBoundaryStream()
