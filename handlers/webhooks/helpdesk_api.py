"""What the job runner needs from a helpdesk: a way to post notes and a guard for its own writes.

Each vendor's package in `handlers/helpdesks/` implements these; the runner knows only them.
"""

from __future__ import annotations

from typing import Protocol

from bot.conversation.turns import SkippedAttachment
from bot.intake.jobs import Job


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
