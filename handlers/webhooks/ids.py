"""Each helpdesk's ticket id format, checked before an id goes near an API URL.

A ticket id comes from a webhook body, so it is text someone else chose. It is
accepted only in the vendor's own format, a null or missing id is refused, and
every URL path segment built from an id is percent-quoted as well, so an id
can never become `../../users/me` on the way to an authenticated request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote


class BadTicketId(ValueError):
    """The id is missing, null or not in the vendor's format."""


@dataclass(frozen=True)
class TicketFormat:
    """A vendor's ticket id format (each helpdesk declares its own, with the doc page).

    Example:
        >>> TicketFormat("zendesk", re.compile(r"[1-9][0-9]{0,19}")).check(501)
        '501'
    """

    vendor: str
    pattern: re.Pattern[str]

    def check(self, value: object) -> str:
        """`value` as a ticket id of this vendor; raises `BadTicketId` otherwise."""
        if value is None or isinstance(value, bool) or not isinstance(value, str | int):
            raise BadTicketId(f"{self.vendor} ticket id is missing or not a string or number")
        text = str(value)
        if not self.pattern.fullmatch(text):
            raise BadTicketId(f"{self.vendor} ticket id {text[:40]!r} is not in its format")
        return text


def segment(value: str) -> str:
    """`value` as one URL path segment: every `/`, `.`-run, `?`, `#` and `%` quoted."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted.strip(".") == "" else quoted
