"""What the webhook core needs from a helpdesk: for the routes, its signature check, body
reader and delivery id; for the job runner, a way to post notes and a guard for its own writes.

Each vendor's package in `handlers/helpdesks/` implements these; the runner knows only them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.conversation.turns import SkippedAttachment
from bot.intake.jobs import Job
from handlers.webhooks.payloads import TicketEvent

Read = Callable[[Any], object]
"""How a setting is read from its helpdesk's own settings (its value; unset is None or empty)."""


@dataclass(frozen=True)
class WebhookRoute:
    """One `POST /webhooks/<name>` route, declared by the helpdesk package that answers it.

    Args:
        name: the path segment; also the `provider` label of its metrics and the key of its
            deliveries and job ids, so a route's name never changes once shipped.
        setting: the variable that holds its secret (the route is on when it is set).
        read: how that secret is read from its helpdesk's settings.
        token_only: the secret travels with each delivery (a header) instead of signing it;
            such a secret reads no job, and its jobs are read only with `JOBS_READ_TOKEN`.
    """

    name: str
    setting: str
    read: Read
    token_only: bool = False


class Inbound(Protocol):
    """What the webhook routes need from the helpdesks: which routes there are, each vendor's
    signature check, body reader and delivery id (`handlers.helpdesks.registry.Registry`)."""

    def route(self, name: str) -> WebhookRoute | None:
        """The route called `name`; None when no helpdesk answers it."""
        ...

    def helpdesk_name(self, route: str) -> str:
        """The helpdesk whose API answers `route`'s tickets (the `provider` its jobs carry)."""
        ...

    def verify(self, route: str, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether `headers` carry a valid, fresh signature of `body`."""
        ...

    def parse(self, route: str, body: Any) -> TicketEvent:
        """The ticket in the parsed JSON `body` (raises NotATicket, UnreadableTicket,
        BadTicketId)."""
        ...

    def delivery_id(self, route: str, headers: Mapping[str, str], body: Any) -> str | None:
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
