"""The generic webhook's body: `{"ticket_id": "…", "text": "…", "attachments": [{"name": "…",
"url": "…"}]}`."""

from __future__ import annotations

from typing import Any

from handlers.webhooks.ids import ticket_id
from handlers.webhooks.payloads import Lenient, TicketEvent, file_entries, read_model
from handlers.webhooks.signatures import Provider

SHAPE = '{"ticket_id": "...", "text": "...", "attachments": [{"name", "url"}]}'


class GenericTicket(Lenient):
    ticket_id: Any = None
    text: Any = None
    attachments: Any = None


def read(body: Any) -> TicketEvent:
    """The ticket a generic delivery carries; every delivery is for the bot."""
    ticket = read_model(GenericTicket, body, shape=SHAPE)
    return TicketEvent(
        ticket_id(Provider.GENERIC, ticket.ticket_id),
        str(ticket.text or ""),
        file_entries(ticket.attachments, ("name",), ("url",), ("size",)),
        kind="ticket",
    )
