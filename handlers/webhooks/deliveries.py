"""A vendor's id of one delivery, unchanged when it delivers the same event again.

Each helpdesk says where its id is (`Helpdesk.delivery_id`): Zendesk's and Jira's in a
header, Intercom's notification `id` in the body, the generic webhook's `X-Delivery-Id` if
the sender sets one; Jira automation's "Send web request" sends none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.webhooks.signatures import lowered

# Longer is not an id any vendor sends; it is ignored rather than stored.
MAX_ID_LENGTH = 200


def usable_id(value: Any) -> str | None:
    """`value` as a delivery id, or None when it is not one (not text, empty, too long)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if 0 < len(value) <= MAX_ID_LENGTH else None


def header_id(headers: Mapping[str, str], name: str) -> str | None:
    """The delivery id a vendor sends in header `name`."""
    return usable_id(lowered(headers).get(name.lower()))
