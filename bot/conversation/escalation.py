"""Thread states for handing a conversation to people.

bot ──escalate──▶ escalated ──resolve──▶ resolved
 ▲                   │ take (owner)          │
 └───────────── reopen (the bot is asked again) ┘
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from bot.conversation.turns import Screenshot, ThreadKey


class ThreadStatus(StrEnum):
    BOT = "bot"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class ThreadCase:
    """Where a thread stands with the humans."""

    thread: ThreadKey
    status: ThreadStatus = ThreadStatus.BOT
    requested_by: str | None = None
    owner: str | None = None
    resolution: str | None = None
    desk_message_ts: str | None = None  # the post in the escalation channel
    updated_at: float = field(default_factory=time.time)

    def escalated(self, by: str) -> ThreadCase:
        return replace(
            self,
            status=ThreadStatus.ESCALATED,
            requested_by=by,
            owner=None,
            resolution=None,
            updated_at=time.time(),
        )

    def taken(self, agent: str) -> ThreadCase:
        return replace(self, owner=agent, updated_at=time.time())

    def resolved(self, agent: str, resolution: str) -> ThreadCase:
        return replace(
            self,
            status=ThreadStatus.RESOLVED,
            owner=self.owner or agent,
            resolution=resolution,
            updated_at=time.time(),
        )

    def reopened(self) -> ThreadCase:
        return replace(self, status=ThreadStatus.BOT, updated_at=time.time())


class CaseStore(Protocol):
    async def get(self, thread: ThreadKey) -> ThreadCase: ...

    async def save(self, case: ThreadCase) -> None: ...

    async def remember_thread(
        self, workspace: str, channel: str, user: str, thread_ts: str
    ) -> None:
        """Note the user's latest thread with the bot in a channel (for `/escalate`)."""
        ...

    async def latest_thread(self, workspace: str, channel: str, user: str) -> str | None: ...


_ASKS_FOR_HUMAN = re.compile(
    r"\b(talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+)?(human|person|agent|someone|real person)\b"
    r"|\b(human|live|real)\s+(agent|support|person)\b|\bget\s+(me\s+)?a\s+human\b"
    r"|转人工|人工客服|找人工|真人客服",
    re.IGNORECASE,
)


def asks_for_a_human(text: str) -> bool:
    """ "I want to talk to a human", "转人工" and the like."""
    return bool(_ASKS_FOR_HUMAN.search(text))


class TicketOpener(Protocol):
    """Opens a helpdesk ticket for an escalated thread (Zendesk today)."""

    async def open(self, *, subject: str, transcript: str, screenshots: list[Screenshot]) -> str:
        """Create the ticket; returns its id. Raises `httpx.HTTPError` when refused."""
        ...
