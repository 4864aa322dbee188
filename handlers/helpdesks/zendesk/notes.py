"""Zendesk notes: a private comment that also tags the ticket `ANSWERED_TAG`.

https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
"""

from __future__ import annotations

from typing import Any

import httpx

from handlers.helpdesks.base import note_marker
from handlers.helpdesks.zendesk.payload import TICKET_ID

ANSWERED_TAG = "supportbot_answered"
# How many of a ticket's comments are searched for a note's marker.
_PAGE = 100


class ZendeskNoteFormat:
    """`PUT /api/v2/tickets/{id}.json` with a comment that has `public: false`."""

    ticket_format = TICKET_ID

    def request(self, ticket: str, text: str, job_id: str) -> tuple[str, str, dict[str, Any]]:
        body = {
            "ticket": {
                "comment": {"body": text, "public": False},
                # `additional_tags` adds without replacing the ticket's other tags.
                "additional_tags": [ANSWERED_TAG],
            }
        }
        return "PUT", f"/api/v2/tickets/{ticket}.json", body

    async def has_note(self, client: httpx.AsyncClient, ticket: str, job_id: str) -> bool:
        # List Comments, newest first:
        # https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments
        response = await client.get(
            f"/api/v2/tickets/{ticket}/comments.json",
            params={"sort_order": "desc", "per_page": _PAGE},
        )
        response.raise_for_status()
        comments = response.json().get("comments") or []
        marker = note_marker(job_id)
        return any(
            isinstance(c, dict) and isinstance(c.get("body"), str) and marker in c["body"]
            for c in comments
        )
