"""Post a diagnosis back to the helpdesk as an internal note (never visible to the customer).

Every note is marked as the bot's, so that when the helpdesk echoes it back as a
new event the bot knows it wrote it: the note starts with `NOTE_HEADER`; a
Zendesk note also tags the ticket `ANSWERED_TAG`; a Jira note carries the
comment property `NOTE_PROPERTY` with the job id.

Every note also ends with a line naming its job (`note_marker`), so that a POST
whose answer was lost (a timeout) is looked for on the ticket (`exists`) before
it is sent again: a note is never doubled.
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
# How many of a ticket's comments are searched for a note's marker, per page and in all.
_PAGE = 100
_MAX_PAGES = 20
DEFAULT_TIMEOUT_SECONDS = 30.0


def note_marker(job_id: str) -> str:
    """The last line of job `job_id`'s note, by which it is found on the ticket."""
    return f"[supportbot job {job_id}]"


class NotePoster(Protocol):
    async def post(
        self,
        ticket_id: str,
        answer: str,
        skipped: tuple[SkippedAttachment, ...],
        *,
        job_id: str = "",
    ) -> None:
        """Add the note (ending with `note_marker(job_id)`); raises `httpx.HTTPError` when the
        helpdesk refuses it."""
        ...

    async def exists(self, ticket_id: str, job_id: str) -> bool:
        """Whether job `job_id`'s note is already on the ticket."""
        ...


def _plain_note(answer: str, skipped: tuple[SkippedAttachment, ...], job_id: str = "") -> str:
    notes = [say(Message.SKIPPED_FILE, filename=s.filename, reason=s.reason) for s in skipped]
    lines = [NOTE_HEADER, "", *notes, *([""] if notes else []), answer]
    return "\n".join([*lines, "", note_marker(job_id)] if job_id else lines)


def _any_has(marker: str, texts: list[Any]) -> bool:
    return any(isinstance(text, str) and marker in text for text in texts)


class ZendeskNotes:
    """`PUT /api/v2/tickets/{id}.json` with a comment that has `public: false`, tagging the ticket.

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        email: str,
        token: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(f"{email}/token", token)
        self._timeout = timeout

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
                "comment": {"body": _plain_note(answer, skipped, job_id), "public": False},
                # `additional_tags` adds without replacing the ticket's other tags.
                "additional_tags": [ANSWERED_TAG],
            }
        }
        response = await self._client.put(
            f"{self._base}/api/v2/tickets/{number}.json",
            json=body,
            auth=self._auth,
            timeout=self._timeout,
        )
        response.raise_for_status()

    async def exists(self, ticket_id: str, job_id: str) -> bool:
        # List Comments, newest first:
        # https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments
        number = segment(_checked(Provider.ZENDESK, ticket_id))
        response = await self._client.get(
            f"{self._base}/api/v2/tickets/{number}/comments.json",
            params={"sort_order": "desc", "per_page": _PAGE},
            auth=self._auth,
            timeout=self._timeout,
        )
        response.raise_for_status()
        comments = response.json().get("comments") or []
        texts = [c.get("body") for c in comments if isinstance(c, dict)]
        return _any_has(note_marker(job_id), texts)


class IntercomNotes:
    """`POST /conversations/{id}/reply` with `message_type: note` as an admin (HTML body)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        token: str,
        admin_id: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._token = token
        self._admin_id = admin_id
        self._timeout = timeout

    async def post(
        self,
        ticket_id: str,
        answer: str,
        skipped: tuple[SkippedAttachment, ...],
        *,
        job_id: str = "",
    ) -> None:
        conversation = segment(_checked(Provider.INTERCOM, ticket_id))
        paragraphs = _plain_note(answer, skipped, job_id).split("\n\n")
        markup = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
        body = {"message_type": "note", "type": "admin", "admin_id": self._admin_id, "body": markup}
        response = await self._client.post(
            f"{self._base}/conversations/{conversation}/reply",
            json=body,
            headers=intercom_headers(self._token),
            timeout=self._timeout,
        )
        response.raise_for_status()

    async def exists(self, ticket_id: str, job_id: str) -> bool:
        # Retrieve a conversation: its parts, notes included, with their HTML bodies.
        # https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/retrieveconversation
        conversation = segment(_checked(Provider.INTERCOM, ticket_id))
        response = await self._client.get(
            f"{self._base}/conversations/{conversation}",
            headers=intercom_headers(self._token),
            timeout=self._timeout,
        )
        response.raise_for_status()
        parts = (response.json().get("conversation_parts") or {}).get("conversation_parts") or []
        texts = [p.get("body") for p in parts if isinstance(p, dict)]
        return _any_has(html.escape(note_marker(job_id)), texts)


class JiraNotes:
    """`POST /rest/api/3/issue/{key}/comment`: an internal comment, marked as the bot's.

    Jira Service Management shows a comment to agents only when its property
    `sd.public.comment` says `internal: true`; the same call carries the bot's own
    property, which is how the bot knows the `comment_created` event it fires.
    https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-post
    https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        email: str,
        token: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(email, token)
        self._timeout = timeout

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
            "body": _adf(_plain_note(answer, skipped, job_id)),
            "properties": [
                {"key": "sd.public.comment", "value": {"internal": True}},
                {"key": NOTE_PROPERTY, "value": {"job": job_id}},
            ],
        }
        response = await self._client.post(
            f"{self._base}/rest/api/3/issue/{key}/comment",
            json=body,
            auth=self._auth,
            timeout=self._timeout,
        )
        response.raise_for_status()

    async def exists(self, ticket_id: str, job_id: str) -> bool:
        # Get comments with their properties, newest first; the bot's note carries
        # NOTE_PROPERTY with its job id.
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-get
        key = segment(_checked(Provider.JIRA, ticket_id))
        start = 0
        for _ in range(_MAX_PAGES):
            response = await self._client.get(
                f"{self._base}/rest/api/3/issue/{key}/comment",
                params={
                    "startAt": start,
                    "maxResults": _PAGE,
                    "orderBy": "-created",
                    "expand": "properties",
                },
                auth=self._auth,
                timeout=self._timeout,
            )
            response.raise_for_status()
            page = response.json()
            comments = [c for c in page.get("comments") or [] if isinstance(c, dict)]
            if any(_is_note_of(comment, job_id) for comment in comments):
                return True
            start += len(comments)
            total = page.get("total")
            if not comments or not isinstance(total, int) or start >= total:
                return False
        return False


def _is_note_of(comment: dict[str, Any], job_id: str) -> bool:
    for prop in comment.get("properties") or []:
        if isinstance(prop, dict) and prop.get("key") == NOTE_PROPERTY:
            value = prop.get("value")
            if isinstance(value, dict) and value.get("job") == job_id:
                return True
    return False


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
