"""Before a job runs: is this the helpdesk echoing the bot's own note, and what did it leave out?

Every note the bot writes is a new comment to the helpdesk, and helpdesks fire
their usual events for it (Zendesk's "Ticket is updated" trigger, Jira's
`comment_created`, Intercom's `conversation.admin.noted`). Answering those would
answer itself forever, so each vendor's guard recognises the bot's own writes:

- Zendesk: the updater or comment author is the user `GET /api/v2/users/me.json`
  returns, or the text is the bot's note (its header).
- Jira: the author is the account `GET /rest/api/3/myself` returns, or the comment
  carries the property `supportbot.note`.
- Intercom: the note's author is the admin `INTERCOM_ADMIN_ID`, or it is the bot's note.

`complete` fills in what a delivery does not carry: a Zendesk comment event has
no attachments (they are read from the ticket's comments), and Intercom's
attachment links are signed and expire, so they are read fresh just before the
download.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Protocol

import httpx

from bot.intake.jobs import Job, JobAttachment
from handlers.webhooks.ids import segment
from handlers.webhooks.notes import NOTE_HEADER, NOTE_PROPERTY, intercom_headers
from handlers.webhooks.payloads import AUTOMATION_KIND, file_entries, jira_attachments

log = logging.getLogger(__name__)


class HelpdeskApi(Protocol):
    async def is_own_write(self, job: Job) -> bool:
        """Whether the job is about something the bot itself wrote."""
        ...

    async def complete(self, job: Job) -> Job:
        """The job with what its delivery left out read from the helpdesk."""
        ...


def _is_note(job: Job) -> bool:
    return job.text.lstrip().startswith(NOTE_HEADER)


class ZendeskApi:
    """The bot's identity and comments on Zendesk (API token of the bot's agent user)."""

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, email: str, token: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(f"{email}/token", token)
        self._me: str | None = None

    async def _own_id(self) -> str:
        if self._me is None:
            # https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user
            response = await self._client.get(f"{self._base}/api/v2/users/me.json", auth=self._auth)
            response.raise_for_status()
            self._me = str(response.json()["user"]["id"])
        return self._me

    async def is_own_write(self, job: Job) -> bool:
        if _is_note(job):
            return True
        return job.actor_id is not None and job.actor_id == await self._own_id()

    async def complete(self, job: Job) -> Job:
        if job.kind != "comment_event" or job.comment_id is None:
            return job
        # https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments
        response = await self._client.get(
            f"{self._base}/api/v2/tickets/{segment(job.ticket_id)}/comments.json",
            params={"sort_order": "desc"},
            auth=self._auth,
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


class JiraApi:
    """The bot's identity and comment properties on Jira (API token of the bot's account)."""

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, email: str, token: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(email, token)
        self._me: str | None = None

    async def _own_id(self) -> str:
        if self._me is None:
            # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/#api-rest-api-3-myself-get
            response = await self._client.get(f"{self._base}/rest/api/3/myself", auth=self._auth)
            response.raise_for_status()
            self._me = str(response.json()["accountId"])
        return self._me

    async def is_own_write(self, job: Job) -> bool:
        if _is_note(job) or (job.actor_id is not None and job.actor_id == await self._own_id()):
            return True
        if job.kind != "comment" or job.comment_id is None:
            return False
        # The marker holds even when the bot shares its account with people.
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-id-get
        response = await self._client.get(
            f"{self._base}/rest/api/3/issue/{segment(job.ticket_id)}/comment/"
            f"{segment(job.comment_id)}",
            params={"expand": "properties"},
            auth=self._auth,
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
            f"{self._base}/rest/api/3/issue/{segment(job.ticket_id)}",
            params={"fields": "attachment"},
            auth=self._auth,
        )
        response.raise_for_status()
        fields = response.json().get("fields") or {}
        return replace(job, attachments=jira_attachments(fields.get("attachment")))


class IntercomApi:
    """The bot's admin and fresh attachment links on Intercom."""

    def __init__(
        self, client: httpx.AsyncClient, *, base_url: str, token: str, admin_id: str
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._token = token
        self._admin_id = admin_id

    async def is_own_write(self, job: Job) -> bool:
        return _is_note(job) or (job.kind == "note" and job.actor_id == self._admin_id)

    async def complete(self, job: Job) -> Job:
        """Attachment links read again just before the download: Intercom's CDN links are
        signed and expire, and a job can run long after its delivery (a queue, a restart)."""
        if job.comment_id is None or not any(a.url for a in job.attachments):
            return job
        try:
            # https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/retrieveconversation
            response = await self._client.get(
                f"{self._base}/conversations/{segment(job.ticket_id)}",
                headers=intercom_headers(self._token),
            )
            response.raise_for_status()
            item = response.json()
        except (httpx.HTTPError, ValueError) as error:
            log.warning("could not refresh intercom links of %s: %s", job.ticket_id, error)
            return job
        parts = ((item.get("conversation_parts") or {}).get("conversation_parts") or []) + [
            item.get("source") or {}
        ]
        for part in parts:
            if isinstance(part, dict) and str(part.get("id")) == job.comment_id:
                fresh = {
                    f.name: f
                    for f in file_entries(
                        part.get("attachments"), ("name",), ("url",), ("filesize",)
                    )
                }
                return replace(job, attachments=tuple(_fresher(a, fresh) for a in job.attachments))
        return job


def _fresher(old: JobAttachment, fresh: dict[str, JobAttachment]) -> JobAttachment:
    new = fresh.get(old.name)
    if new is None or not new.url:
        return old
    return replace(old, url=new.url, unavailable=None)
