"""Zendesk's webhook bodies, two ways.

- A trigger or automation that notifies a webhook with a JSON body built from placeholders
  (the body and the trigger we ship are in `deploy/zendesk/`; the API's own key names
  `body`, `file_name`, `content_url` are read too). Placeholders render as strings, so ids
  arrive as `"501"` and booleans as `"true"`; `updater_id` (`{{current_user.id}}`) is who
  made the update, which is how the bot knows its own.
  https://support.zendesk.com/hc/en-us/articles/4408886858138-Zendesk-placeholders-reference
- An event webhook subscribed to `zen:event-type:ticket.comment_added`; its comment has no
  attachments, so they are read from the ticket's comments when the job runs.
  https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/
"""

from __future__ import annotations

import re
from typing import Any

from handlers.webhooks.ids import TicketFormat
from handlers.webhooks.payloads import (
    Lenient,
    NotATicket,
    TicketEvent,
    file_entries,
    member,
    quoted,
    read_model,
    rendered,
)

# Zendesk ticket ids are positive integers (JSON numbers, or strings of digits from placeholders).
# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format
TICKET_ID = TicketFormat("zendesk", re.compile(r"[1-9][0-9]{0,19}"))

SHAPE = "the body in deploy/zendesk/trigger-body.json"
EVENT_SHAPE = "a ticket.comment_added event: detail.id, event.comment {id, body, author}"


class TriggerComment(Lenient):
    """`{{ticket.latest_comment…}}` placeholders, or the API's comment keys."""

    id: Any = None
    author_id: Any = None
    value: Any = None
    body: Any = None
    plain_body: Any = None
    attachments: Any = None


class TriggerTicket(Lenient):
    id: Any = None
    updater_id: Any = None
    description: Any = None
    # An object, or text when the trigger renders `{{ticket.latest_comment}}` whole.
    latest_comment: TriggerComment | Any = None


class TriggerBody(Lenient):
    ticket: TriggerTicket


class EventComment(Lenient):
    id: Any = None
    body: Any = None
    author: Any = None


class EventDetail(Lenient):
    id: Any = None


class Event(Lenient):
    comment: EventComment


class EventBody(Lenient):
    """https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/#ticket-comment-added"""

    type: str
    subject: Any = None
    detail: EventDetail | None = None
    event: Event


def read(body: Any) -> TicketEvent:
    """The ticket in a Zendesk delivery; every trigger delivery is for the bot."""
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(kind, str) and kind.startswith("zen:event-type:"):
        if kind != "zen:event-type:ticket.comment_added":
            raise NotATicket(f"event {quoted(kind)} is not a new comment")
        return _event(read_model(EventBody, body, shape=EVENT_SHAPE))
    ticket = read_model(TriggerBody, body, shape=SHAPE).ticket
    comment = ticket.latest_comment
    if isinstance(comment, TriggerComment):
        text = next(
            (t for t in (comment.value, comment.body, comment.plain_body) if rendered(t)), None
        )
        files = file_entries(
            comment.attachments, ("filename", "file_name"), ("url", "content_url"), ("size",)
        )
        author, comment_id = comment.author_id, comment.id
    else:  # `{{ticket.latest_comment}}` renders the comment as text
        text, files, author, comment_id = comment, (), None, None
    return TicketEvent(
        TICKET_ID.check(ticket.id),
        rendered(text) or rendered(ticket.description) or "",
        files,
        actor_id=rendered(ticket.updater_id) or rendered(author),
        comment_id=rendered(comment_id),
        kind="comment",
    )


def _event(body: EventBody) -> TicketEvent:
    subject = str(body.subject or "")
    number = (body.detail.id if body.detail else None) or (
        subject.removeprefix("zen:ticket:") if subject else None
    )
    comment = body.event.comment
    return TicketEvent(
        TICKET_ID.check(number),
        rendered(comment.body) or "",
        (),
        actor_id=rendered(member(comment.author).get("id")),
        comment_id=rendered(comment.id),
        kind="comment_event",
    )
