"""Intercom notes: an admin's note reply (HTML body).

https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/replyconversation
"""

from __future__ import annotations

import html
from typing import Any

import httpx

from handlers.helpdesks.base import note_marker
from handlers.helpdesks.intercom.payload import TICKET_ID


class IntercomNoteFormat:
    """`POST /conversations/{id}/reply` with `message_type: note` as the bot's admin."""

    ticket_format = TICKET_ID

    def __init__(self, admin_id: str) -> None:
        self._admin_id = admin_id

    def request(self, ticket: str, text: str, job_id: str) -> tuple[str, str, dict[str, Any]]:
        paragraphs = text.split("\n\n")
        markup = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
        body = {"message_type": "note", "type": "admin", "admin_id": self._admin_id, "body": markup}
        return "POST", f"/conversations/{ticket}/reply", body

    async def has_note(self, client: httpx.AsyncClient, ticket: str, job_id: str) -> bool:
        # Retrieve a conversation: its parts, notes included, with their HTML bodies.
        # https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/retrieveconversation
        response = await client.get(f"/conversations/{ticket}")
        response.raise_for_status()
        parts = (response.json().get("conversation_parts") or {}).get("conversation_parts") or []
        marker = html.escape(note_marker(job_id))
        return any(
            isinstance(p, dict) and isinstance(p.get("body"), str) and marker in p["body"]
            for p in parts
        )
