"""Make the model's answer safe to show, piece by piece as it streams.

The stream holds back the end of what it has seen until nothing in it could
still turn out to be a secret: it only releases text up to a whitespace at least
`Redactor.safe_context` characters before the end, never inside a finding (nor
inside the text a finding's pattern needs), and never past the start of an
unfinished private key block. What has been released is final: later text can
only be appended, so no secret is shown even for the moment before an edit.
"""

from __future__ import annotations

import re
from typing import Protocol

from bot.safety.links import LinkGuard
from bot.safety.redaction import Redactor

_WHITESPACE = re.compile(r"\s")


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


# When nothing could be released, look again only once the held-back text has grown by a
# quarter (and at least this much): a long answer with no break, or an open private key
# block, is then redacted a logarithmic number of times, not once per streamed piece.
_MIN_GROWTH = 256


class _HoldBackStream:
    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._pending = ""
        self._look_at = 0

    def feed(self, text: str) -> str:
        self._pending += text
        return self._release(final=False)

    def finish(self) -> str:
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        pending = self._pending
        if not final and (
            len(pending) < self._look_at
            or _whitespace_cut(pending, len(pending) - self._redactor.safe_context) <= 0
        ):
            # Nothing could be released yet: not worth redacting the held-back text again.
            return ""
        findings = self._redactor.findings(pending)
        cut = len(pending) if final else self._safe_cut(pending, findings)
        if cut <= 0:
            self._look_at = len(pending) + max(_MIN_GROWTH, len(pending) // 4)
            return ""
        released = self._redactor.apply(pending[:cut], [f for f in findings if f.end <= cut])
        self._pending = pending[cut:]
        self._look_at = 0
        return released

    def _safe_cut(self, pending: str, findings: list) -> int:  # type: ignore[type-arg]
        cut = _whitespace_cut(pending, len(pending) - self._redactor.safe_context)
        open_key = Redactor.open_private_key(pending)
        if open_key is not None:
            cut = min(cut, _whitespace_cut(pending, open_key))
        moved = True
        while moved and cut > 0:
            moved = False
            for finding in findings:
                if finding.needs_from < cut < finding.end:
                    cut = _whitespace_cut(pending, finding.needs_from)
                    moved = True
        return cut


def _whitespace_cut(text: str, limit: int) -> int:
    """Just after the last whitespace at or before `limit` (0 when there is none)."""
    if limit <= 0:
        return 0
    last = -1
    for match in _WHITESPACE.finditer(text, 0, limit):
        last = match.start()
    return last + 1


class RedactingFilter:
    """Redacts secrets, personal data and sensitive words, and neutralises foreign links.

    Args:
        redactor: finds secrets and personal data (and counts them).
        links: rewrites links to hosts outside its allowlist; None keeps links as they are.
    """

    def __init__(self, redactor: Redactor, *, links: LinkGuard | None = None) -> None:
        extra = (links.find,) if links is not None else ()
        self._redactor = Redactor(
            words=redactor.words, stats=redactor.stats, extra=(*redactor.extra, *extra)
        )

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def open(self) -> FilterStream:
        return _HoldBackStream(self._redactor)
