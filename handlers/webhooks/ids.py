"""Each helpdesk's ticket id format, checked before an id goes near an API URL.

A ticket id comes from a webhook body, so it is text someone else chose. It is
accepted only in the vendor's own format, a null or missing id is refused, and
every URL path segment built from an id is percent-quoted as well, so an id
can never become `../../users/me` on the way to an authenticated request.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from handlers.webhooks.signatures import Provider

# Zendesk ticket ids are positive integers (JSON numbers, or strings of digits from placeholders).
# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format
# Jira: an issue key (`PROJ-123`, project keys are upper-case letters, digits and `_`, starting
# with a letter) or the numeric issue id.
# https://support.atlassian.com/jira-cloud-administration/docs/edit-a-projects-details/
# Intercom conversation ids are strings of digits.
# https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/retrieveconversation
_FORMATS = {
    Provider.ZENDESK: re.compile(r"[1-9][0-9]{0,19}"),
    Provider.JIRA: re.compile(r"[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,18}|[1-9][0-9]{0,18}"),
    Provider.INTERCOM: re.compile(r"[0-9]{1,32}"),
    # The generic webhook's id never reaches an API URL, but it is shown in Slack and stored.
    Provider.GENERIC: re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"),
}


class BadTicketId(ValueError):
    """The id is missing, null or not in the vendor's format."""


def ticket_id(provider: Provider, value: object) -> str:
    """`value` as a ticket id of `provider`; raises `BadTicketId` otherwise.

    Example:
        >>> ticket_id(Provider.ZENDESK, 501)
        '501'
    """
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        raise BadTicketId(f"{provider.value} ticket id is missing or not a string or number")
    text = str(value)
    if not _FORMATS[provider.helpdesk].fullmatch(text):
        raise BadTicketId(f"{provider.value} ticket id {text[:40]!r} is not in its format")
    return text


def segment(value: str) -> str:
    """`value` as one URL path segment: every `/`, `.`-run, `?`, `#` and `%` quoted."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted.strip(".") == "" else quoted
