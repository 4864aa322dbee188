"""Post a diagnosis back to the helpdesk as an internal note (never visible to the customer).

Every note is marked as the bot's, so that when the helpdesk echoes it back as a
new event the bot knows it wrote it: the note starts with `NOTE_HEADER`; a
Zendesk note also tags the ticket `ANSWERED_TAG`; a Jira note carries the
comment property `NOTE_PROPERTY` with the job id.
"""

from __future__ import annotations

import html
from typing import Any, Protocol

import httpx

from bot.conversation.turns import SkippedAttachment
from bot.messages import Message, say
from handlers.webhooks.ids import segment, ticket_id
from handlers.webhooks.signatures import Provider

NOTE_HEADER = "supportbot diagnosis (internal)"
ANSWERED_TAG = "supportbot_answered"
NOTE_PROPERTY = "supportbot.note"
# Intercom answers in the API version the request names; unpinned, the app's default
# version (changeable in the Developer Hub) would decide the shape of every answer.
# https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/api-versioning
INTERCOM_VERSION = "2.11"


class NotePoster(Protocol):
    async def post(
        self,
        ticket_id: str,
        answer: str,
        skipped: tuple[SkippedAttachment, ...],
        *,
        job_id: str = "",
    ) -> None:
        """Add the note; raises `httpx.HTTPError` when the helpdesk refuses it."""
        ...


def _plain_note(answer: str, skipped: tuple[SkippedAttachment, ...]) -> str:
    notes = [say(Message.SKIPPED_FILE, filename=s.filename, reason=s.reason) for s in skipped]
    return "\n".join([NOTE_HEADER, "", *notes, *([""] if notes else []), answer])


class ZendeskNotes:
    """`PUT /api/v2/tickets/{id}.json` with a comment that has `public: false`, tagging the ticket.

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
    """

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, email: str, token: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(f"{email}/token", token)

    async def post(
        self,
        ticket_id: str,
        answer: str,
        skipped: tuple[SkippedAttachment, ...],
        *,
        job_id: str = "",
    ) -> None:
        number = segment(_checked(Provider.ZENDESK, ticket_id))
        body = {
            "ticket": {
                "comment": {"body": _plain_note(answer, skipped), "public": False},
                # `additional_tags` adds without replacing the ticket's other tags.
                "additional_tags": [ANSWERED_TAG],
            }
        }
        response = await self._client.put(
            f"{self._base}/api/v2/tickets/{number}.json", json=body, auth=self._auth
        )
        response.raise_for_status()


class IntercomNotes:
    """`POST /conversations/{id}/reply` with `message_type: note` as an admin (HTML body)."""

    def __init__(
        self, client: httpx.AsyncClient, *, base_url: str, token: str, admin_id: str
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._token = token
        self._admin_id = admin_id

    async def post(
        self,
        ticket_id: str,
        answer: str,
        skipped: tuple[SkippedAttachment, ...],
        *,
        job_id: str = "",
    ) -> None:
        conversation = segment(_checked(Provider.INTERCOM, ticket_id))
        paragraphs = _plain_note(answer, skipped).split("\n\n")
        markup = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
        body = {"message_type": "note", "type": "admin", "admin_id": self._admin_id, "body": markup}
        response = await self._client.post(
            f"{self._base}/conversations/{conversation}/reply",
            json=body,
            headers=intercom_headers(self._token),
        )
        response.raise_for_status()


class JiraNotes:
    """`POST /rest/api/3/issue/{key}/comment`: an internal comment, marked as the bot's.

    Jira Service Management shows a comment to agents only when its property
    `sd.public.comment` says `internal: true`; the same call carries the bot's own
    property, which is how the bot knows the `comment_created` event it fires.
    https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-post
    https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post
    """

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, email: str, token: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(email, token)

    async def post(
        self,
        ticket_id: str,
        answer: str,
        skipped: tuple[SkippedAttachment, ...],
        *,
        job_id: str = "",
    ) -> None:
        key = segment(_checked(Provider.JIRA, ticket_id))
        body = {
            "body": _adf(_plain_note(answer, skipped)),
            "properties": [
                {"key": "sd.public.comment", "value": {"internal": True}},
                {"key": NOTE_PROPERTY, "value": {"job": job_id}},
            ],
        }
        response = await self._client.post(
            f"{self._base}/rest/api/3/issue/{key}/comment", json=body, auth=self._auth
        )
        response.raise_for_status()


def intercom_headers(token: str) -> dict[str, str]:
    """What every Intercom API call sends: the token and the pinned API version."""
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Intercom-Version": INTERCOM_VERSION,
    }


def _checked(provider: Provider, value: str) -> str:
    """The id again in its vendor's format: a job stored before the check existed is refused
    here with a clear error rather than turned into another API path."""
    return ticket_id(provider, value)


def _adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format body: one paragraph per line."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}
