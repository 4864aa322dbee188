"""Post a diagnosis back to the helpdesk as an internal note (never visible to the customer)."""

from __future__ import annotations

import html
from typing import Protocol

import httpx

from bot.conversation.turns import SkippedAttachment
from bot.messages import Message, say

NOTE_HEADER = "supportbot diagnosis (internal)"


class NotePoster(Protocol):
    async def post(
        self, ticket_id: str, answer: str, skipped: tuple[SkippedAttachment, ...]
    ) -> None:
        """Add the note; raises `httpx.HTTPError` when the helpdesk refuses it."""
        ...


def _plain_note(answer: str, skipped: tuple[SkippedAttachment, ...]) -> str:
    notes = [say(Message.SKIPPED_FILE, filename=s.filename, reason=s.reason) for s in skipped]
    return "\n".join([NOTE_HEADER, "", *notes, *([""] if notes else []), answer])


class ZendeskNotes:
    """`PUT /api/v2/tickets/{id}.json` with a comment that has `public: false`."""

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, email: str, token: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(f"{email}/token", token)

    async def post(
        self, ticket_id: str, answer: str, skipped: tuple[SkippedAttachment, ...]
    ) -> None:
        body = {"ticket": {"comment": {"body": _plain_note(answer, skipped), "public": False}}}
        response = await self._client.put(
            f"{self._base}/api/v2/tickets/{ticket_id}.json", json=body, auth=self._auth
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
        self, ticket_id: str, answer: str, skipped: tuple[SkippedAttachment, ...]
    ) -> None:
        paragraphs = _plain_note(answer, skipped).split("\n\n")
        markup = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
        body = {"message_type": "note", "type": "admin", "admin_id": self._admin_id, "body": markup}
        response = await self._client.post(
            f"{self._base}/conversations/{ticket_id}/reply",
            json=body,
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
        )
        response.raise_for_status()


class JiraNotes:
    """`POST /rest/servicedeskapi/request/{key}/comment` with `public: false` (internal)."""

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, email: str, token: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(email, token)

    async def post(
        self, ticket_id: str, answer: str, skipped: tuple[SkippedAttachment, ...]
    ) -> None:
        body = {"body": _plain_note(answer, skipped), "public": False}
        response = await self._client.post(
            f"{self._base}/rest/servicedeskapi/request/{ticket_id}/comment",
            json=body,
            auth=self._auth,
        )
        response.raise_for_status()
