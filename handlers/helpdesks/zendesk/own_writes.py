"""The bot's own Zendesk writes echoed back, and the attachments a comment event leaves out.

The bot's own: the updater or comment author is the user `GET /api/v2/users/me.json` returns,
or the text is the bot's note. A `ticket.comment_added` event carries no attachments; they are
read from the ticket's comments.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx

from bot.intake.jobs import Job
from handlers.helpdesks.base import is_bot_note
from handlers.webhooks.ids import segment
from handlers.webhooks.payloads import file_entries

log = logging.getLogger(__name__)


class ZendeskApi:
    """The bot's identity and comments on Zendesk (API token of the bot's agent user)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._me: str | None = None

    async def _own_id(self) -> str:
        if self._me is None:
            # https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user
            response = await self._client.get("/api/v2/users/me.json")
            response.raise_for_status()
            self._me = str(response.json()["user"]["id"])
        return self._me

    async def is_own_write(self, job: Job) -> bool:
        if is_bot_note(job.text):
            return True
        return job.actor_id is not None and job.actor_id == await self._own_id()

    async def complete(self, job: Job) -> Job:
        if job.kind != "comment_event" or job.comment_id is None:
            return job
        # https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments
        response = await self._client.get(
            f"/api/v2/tickets/{segment(job.ticket_id)}/comments.json",
            params={"sort_order": "desc"},
        )
        response.raise_for_status()
        for comment in response.json().get("comments") or []:
            if isinstance(comment, dict) and str(comment.get("id")) == job.comment_id:
                files = file_entries(
                    comment.get("attachments"), ("file_name",), ("content_url",), ("size",)
                )
                return replace(job, attachments=files)
        log.warning("zendesk comment %s not found on ticket %s", job.comment_id, job.ticket_id)
        return job
