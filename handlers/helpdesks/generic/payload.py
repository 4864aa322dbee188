"""The generic webhook's body: `{"ticket_id": "…", "text": "…", "attachments": [{"name": "…",
"url": "…"}]}`."""

from __future__ import annotations

import re
from typing import Any

from handlers.webhooks.ids import TicketFormat
from handlers.webhooks.payloads import Lenient, TicketEvent, file_entries, read_model

# The generic webhook's id never reaches an API URL, but it is shown in Slack and stored.
TICKET_ID = TicketFormat("generic", re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"))

SHAPE = '{"ticket_id": "...", "text": "...", "attachments": [{"name", "url"}]}'


class GenericTicket(Lenient):
    ticket_id: Any = None
    text: Any = None
    attachments: Any = None


def read(body: Any) -> TicketEvent:
    """The ticket a generic delivery carries; every delivery is for the bot."""
    ticket = read_model(GenericTicket, body, shape=SHAPE)
    return TicketEvent(
        TICKET_ID.check(ticket.ticket_id),
        str(ticket.text or ""),
        file_entries(ticket.attachments, ("name",), ("url",), ("size",)),
        kind="ticket",
    )
