"""What the webhook core needs from a helpdesk: for the routes, its signature check, body
reader and delivery id; for the job runner, a way to post notes and a guard for its own writes.

Each vendor's package in `handlers/helpdesks/` implements these; the runner knows only them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from bot.conversation.turns import SkippedAttachment
from bot.intake.jobs import Job
from handlers.webhooks.payloads import TicketEvent
from handlers.webhooks.signatures import Provider


class Inbound(Protocol):
    """What the webhook routes need from the helpdesks: each vendor's signature check, body
    reader and delivery id (`handlers.helpdesks.registry.Inbound`)."""

    def verify(self, route: Provider, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether `headers` carry a valid, fresh signature of `body`."""
        ...

    def parse(self, route: Provider, body: Any) -> TicketEvent:
        """The ticket in the parsed JSON `body` (raises NotATicket, UnreadableTicket,
        BadTicketId)."""
        ...

    def delivery_id(self, route: Provider, headers: Mapping[str, str], body: Any) -> str | None:
        """The vendor's id of this delivery, if it sends one."""
        ...


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


class HelpdeskApi(Protocol):
    async def is_own_write(self, job: Job) -> bool:
        """Whether the job is about something the bot itself wrote."""
        ...

    async def complete(self, job: Job) -> Job:
        """The job with what its delivery left out read from the helpdesk."""
        ...
