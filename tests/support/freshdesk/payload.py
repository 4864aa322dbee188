"""The body of Freshdesk's "Trigger webhook" automation action, set up to send
`{"freshdesk_webhook": {"ticket_id": "{{ticket.id}}", "ticket_subject": "{{ticket.subject}}",
"ticket_description": "{{ticket.description_text}}"}}`; placeholders render as strings.
https://support.freshdesk.com/support/solutions/articles/132589-using-webhooks-in-automation-rules
"""

from __future__ import annotations

import re
from typing import Any

from handlers.webhooks.ids import TicketFormat
from handlers.webhooks.payloads import Lenient, TicketEvent, UnreadableTicket, read_model

# Freshdesk ticket ids are positive integers (`GET /api/v2/tickets/[id]`).
TICKET_ID = TicketFormat("freshdesk", re.compile(r"[1-9][0-9]{0,19}"))

SHAPE = '{"freshdesk_webhook": {"ticket_id", "ticket_subject", "ticket_description"}}'


class FreshdeskTicket(Lenient):
    ticket_id: Any = None
    ticket_subject: Any = None
    ticket_description: Any = None


class FreshdeskDelivery(Lenient):
    freshdesk_webhook: FreshdeskTicket | None = None


def read(body: Any) -> TicketEvent:
    """The ticket an automation delivery carries; the rule sends only tickets to answer."""
    ticket = read_model(FreshdeskDelivery, body, shape=SHAPE).freshdesk_webhook
    if ticket is None:
        raise UnreadableTicket("freshdesk_webhook", shape=SHAPE)
    text = "\n\n".join(
        str(part) for part in (ticket.ticket_subject, ticket.ticket_description) if part
    )
    return TicketEvent(TICKET_ID.check(ticket.ticket_id), text, (), kind="ticket")
