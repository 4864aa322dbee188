"""The bot's own Jira writes echoed back, and the attachments a token-only delivery leaves out.

The bot's own: the author is the account `GET /rest/api/3/myself` returns, or the comment
carries the property `supportbot.note`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from bot.intake.jobs import Job
from handlers.helpdesks.base import is_bot_note
from handlers.helpdesks.jira.notes import NOTE_PROPERTY
from handlers.helpdesks.jira.payload import jira_attachments
from handlers.webhooks.ids import segment
from handlers.webhooks.payloads import AUTOMATION_KIND


class JiraApi:
    """The bot's identity and comment properties on Jira (API token of the bot's account)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._me: str | None = None

    async def _own_id(self) -> str:
        if self._me is None:
            # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/#api-rest-api-3-myself-get
            response = await self._client.get("/rest/api/3/myself")
            response.raise_for_status()
            self._me = str(response.json()["accountId"])
        return self._me

    async def is_own_write(self, job: Job) -> bool:
        if is_bot_note(job.text) or (
            job.actor_id is not None and job.actor_id == await self._own_id()
        ):
            return True
        if job.kind != "comment" or job.comment_id is None:
            return False
        # The marker holds even when the bot shares its account with people.
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-id-get
        response = await self._client.get(
            f"/rest/api/3/issue/{segment(job.ticket_id)}/comment/{segment(job.comment_id)}",
            params={"expand": "properties"},
        )
        response.raise_for_status()
        properties: Any = response.json().get("properties") or []
        return any(isinstance(p, dict) and p.get("key") == NOTE_PROPERTY for p in properties)

    async def complete(self, job: Job) -> Job:
        """A token-only delivery's attachments, listed from Jira by the issue's key.
        https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
        """
        if job.kind != AUTOMATION_KIND:
            return job
        response = await self._client.get(
            f"/rest/api/3/issue/{segment(job.ticket_id)}", params={"fields": "attachment"}
        )
        response.raise_for_status()
        fields = response.json().get("fields") or {}
        return replace(job, attachments=jira_attachments(fields.get("attachment")))
