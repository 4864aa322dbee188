"""Open a Zendesk ticket when a Slack thread is escalated, with the screenshots.

Implements `bot.conversation.escalation.TicketOpener`.
"""

from __future__ import annotations

import httpx

from bot.conversation.turns import Screenshot


class ZendeskTickets:
    """Uploads each screenshot (`POST /api/v2/uploads.json`), then creates the ticket
    (`POST /api/v2/tickets.json`) with the transcript as its first, internal comment.

    Args:
        client: the Zendesk client (`Connection.client()`: base URL, auth, timeout).
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def open(self, *, subject: str, transcript: str, screenshots: list[Screenshot]) -> str:
        tokens = []
        for shot in screenshots:
            response = await self._client.post(
                "/api/v2/uploads.json",
                params={"filename": shot.filename},
                content=shot.data,
                headers={"Content-Type": shot.media_type},
            )
            response.raise_for_status()
            tokens.append(response.json()["upload"]["token"])
        body = {
            "ticket": {
                "subject": subject,
                "comment": {"body": transcript, "public": False, "uploads": tokens},
                "tags": ["supportbot", "escalated-from-slack"],
            }
        }
        response = await self._client.post("/api/v2/tickets.json", json=body)
        response.raise_for_status()
        return str(response.json()["ticket"]["id"])
