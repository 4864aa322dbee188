"""Intercom's notifications (topics `conversation.user.created`, `conversation.user.replied`,
`conversation.admin.noted`): the latest part of the conversation from the customer (or the
latest note), HTML read as text.

API 2.x puts the conversation's opening message under `source`; 1.x under
`conversation_message`, with the same `id`, `body`, `author` and `attachments`. Both are read.
https://developers.intercom.com/docs/references/webhooks/webhook-models
https://developers.intercom.com/docs/references/2.0/rest-api/conversations/conversation-model
"""

from __future__ import annotations

import re
from typing import Any

from handlers.webhooks.ids import TicketFormat
from handlers.webhooks.payloads import (
    Lenient,
    NotATicket,
    TicketEvent,
    UnreadableTicket,
    file_entries,
    member,
    objects,
    plain,
    quoted,
    read_model,
    rendered,
)

# Intercom conversation ids are strings of digits.
# https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/retrieveconversation
TICKET_ID = TicketFormat("intercom", re.compile(r"[0-9]{1,32}"))

SHAPE = (
    "a notification_event whose data.item is a conversation with source (API 2.x) "
    "or conversation_message (1.x)"
)
TOPICS = frozenset(
    {"conversation.user.created", "conversation.user.replied", "conversation.admin.noted"}
)
_CUSTOMERS = {"user", "lead", "contact"}


class Part(Lenient):
    """A conversation part, or the opening message (`source`, 1.x `conversation_message`)."""

    id: Any = None
    part_type: Any = None
    body: Any = None
    author: Any = None
    attachments: Any = None


class Parts(Lenient):
    conversation_parts: list[Any] | None = None


class Conversation(Lenient):
    id: Any = None
    source: Part | None = None
    conversation_message: Part | None = None
    conversation_parts: Parts | None = None


class Data(Lenient):
    item: Conversation


class Notification(Lenient):
    topic: str
    data: Data


def read(body: Any) -> TicketEvent:
    """The customer's message or the note an Intercom notification is about."""
    topic = body.get("topic") if isinstance(body, dict) else None
    if topic not in TOPICS:
        raise NotATicket(f"topic {quoted(topic)} is not a customer message or a note")
    item = read_model(Notification, body, shape=SHAPE).data.item
    parts = [
        Part.model_validate(p)
        for p in objects(
            item.conversation_parts.conversation_parts if item.conversation_parts else []
        )
    ]
    if topic == "conversation.admin.noted":
        notes = [p for p in parts if p.part_type == "note"]
        if not notes:
            raise NotATicket("a noted conversation without a note")
        latest, kind = notes[-1], "note"
    else:
        from_customer = [p for p in parts if member(p.author).get("type") in _CUSTOMERS]
        opening = item.source or item.conversation_message
        if not from_customer and opening is None:
            raise UnreadableTicket("data.item.source (or conversation_message in 1.x)", shape=SHAPE)
        latest = from_customer[-1] if from_customer else opening  # type: ignore[assignment]
        kind = "comment" if from_customer else "ticket"
    return TicketEvent(
        TICKET_ID.check(item.id),
        plain(str(latest.body or "")),
        file_entries(latest.attachments, ("name",), ("url",), ("filesize",)),
        actor_id=rendered(member(latest.author).get("id")),
        comment_id=rendered(latest.id),
        kind=kind,
    )
