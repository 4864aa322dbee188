"""Read each helpdesk's webhook body into the ticket text and attachments to diagnose.

Expected bodies (configure the helpdesk to send these):

- Zendesk (webhook with a JSON body from a trigger):
  `{"ticket": {"id": 123, "description": "...", "latest_comment": {"body": "...",
  "attachments": [{"file_name": "err.png", "content_url": "https://…", "size": 1234}]}}}`
- Intercom (topics `conversation.user.created` and `conversation.user.replied`):
  `{"topic": "...", "data": {"item": {"id": "…", "source": {"body": "<p>…</p>",
  "attachments": [{"name": "err.png", "url": "https://…", "filesize": 1234}]},
  "conversation_parts": {"conversation_parts": [{"body": "…", "attachments": […]}]}}}}`
- Jira Service Management (`jira:issue_created`, `comment_created`):
  `{"webhookEvent": "...", "issue": {"key": "SD-1", "fields": {"summary": "...",
  "description": "...", "attachment": [{"filename": "err.png", "content": "https://…",
  "size": 1234}]}}, "comment": {"body": "..."}}`
- Generic: `{"ticket_id": "…", "text": "…", "attachments": [{"name": "…", "url": "…"}]}`
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from bot.intake.jobs import JobAttachment
from handlers.webhooks.signatures import Provider


class NotATicket(ValueError):
    """The body is valid JSON but not a ticket event we handle."""


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: str
    text: str
    attachments: tuple[JobAttachment, ...]


_TAG = re.compile(r"<[^>]+>")


def _plain(markup: str) -> str:
    """Intercom sends HTML; the model gets text."""
    return html.unescape(_TAG.sub(" ", markup.replace("<br>", "\n").replace("</p>", "\n"))).strip()


def _attachments(
    items: Any, name_key: str, url_key: str, size_key: str
) -> tuple[JobAttachment, ...]:
    if not isinstance(items, list):
        return ()
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(url_key), str):
            size = item.get(size_key)
            found.append(
                JobAttachment(
                    name=str(item.get(name_key) or "attachment"),
                    url=item[url_key],
                    size=size if isinstance(size, int) else None,
                )
            )
    return tuple(found)


def parse(provider: Provider, body: Any) -> TicketEvent:
    """The ticket in `body`; raises `NotATicket` for anything else."""
    if not isinstance(body, dict):
        raise NotATicket("the body is not a JSON object")
    try:
        return _PARSERS[provider](body)
    except (KeyError, TypeError, AttributeError) as error:
        raise NotATicket(f"missing or malformed field {error}") from None


def _zendesk(body: dict[str, Any]) -> TicketEvent:
    ticket = body["ticket"]
    comment = ticket.get("latest_comment") or {}
    text = str(comment.get("body") or ticket.get("description") or "")
    files = _attachments(comment.get("attachments"), "file_name", "content_url", "size")
    return TicketEvent(str(ticket["id"]), text, files)


def _intercom(body: dict[str, Any]) -> TicketEvent:
    if body.get("topic") not in {"conversation.user.created", "conversation.user.replied"}:
        raise NotATicket(f"topic {body.get('topic')!r} is not a user message")
    item = body["data"]["item"]
    parts = (item.get("conversation_parts") or {}).get("conversation_parts") or []
    latest = parts[-1] if parts else item["source"]
    files = _attachments(latest.get("attachments"), "name", "url", "filesize")
    return TicketEvent(str(item["id"]), _plain(str(latest.get("body") or "")), files)


def _jira(body: dict[str, Any]) -> TicketEvent:
    if body.get("webhookEvent") not in {"jira:issue_created", "comment_created"}:
        raise NotATicket(f"event {body.get('webhookEvent')!r} is not a new issue or comment")
    issue = body["issue"]
    fields = issue["fields"]
    if body["webhookEvent"] == "comment_created":
        text = str(body["comment"]["body"])
    else:
        text = "\n\n".join(
            str(part) for part in (fields.get("summary"), fields.get("description")) if part
        )
    files = _attachments(fields.get("attachment"), "filename", "content", "size")
    return TicketEvent(str(issue["key"]), text, files)


def _generic(body: dict[str, Any]) -> TicketEvent:
    return TicketEvent(
        str(body["ticket_id"]),
        str(body.get("text") or ""),
        _attachments(body.get("attachments"), "name", "url", "size"),
    )


_PARSERS = {
    Provider.ZENDESK: _zendesk,
    Provider.INTERCOM: _intercom,
    Provider.JIRA: _jira,
    Provider.GENERIC: _generic,
}
