"""Thread states for handing a conversation to people, kept in Redis.

bot ──escalate──▶ escalated ──resolve──▶ resolved
 ▲                   │ take (owner)          │
 └───────────── reopen (the bot is asked again) ┘
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from redis.asyncio import Redis

from bot.turns import ThreadKey


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


def _to_json(case: ThreadCase) -> str:
    return json.dumps(asdict(case))


def _from_json(raw: str | bytes) -> ThreadCase:
    data = json.loads(raw)
    data["thread"] = ThreadKey(**data["thread"])
    data["status"] = ThreadStatus(data["status"])
    return ThreadCase(**data)


class InMemoryCaseStore:
    def __init__(self) -> None:
        self._cases: dict[ThreadKey, ThreadCase] = {}
        self._latest: dict[tuple[str, str, str], str] = {}

    async def get(self, thread: ThreadKey) -> ThreadCase:
        return self._cases.get(thread, ThreadCase(thread))

    async def save(self, case: ThreadCase) -> None:
        self._cases[case.thread] = case

    async def remember_thread(
        self, workspace: str, channel: str, user: str, thread_ts: str
    ) -> None:
        self._latest[(workspace, channel, user)] = thread_ts

    async def latest_thread(self, workspace: str, channel: str, user: str) -> str | None:
        return self._latest.get((workspace, channel, user))


class RedisCaseStore:
    def __init__(
        self, redis: Redis, *, prefix: str = "supportbot", ttl_seconds: int = 90 * 24 * 3600
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, thread: ThreadKey) -> str:
        return f"{self._prefix}:case:{thread.as_key()}"

    async def get(self, thread: ThreadKey) -> ThreadCase:
        raw = await self._redis.get(self._key(thread))
        return _from_json(raw) if raw else ThreadCase(thread)

    async def save(self, case: ThreadCase) -> None:
        await self._redis.set(self._key(case.thread), _to_json(case), ex=self._ttl)

    def _latest_key(self, workspace: str, channel: str, user: str) -> str:
        return f"{self._prefix}:latest_thread:{workspace}:{channel}:{user}"

    async def remember_thread(
        self, workspace: str, channel: str, user: str, thread_ts: str
    ) -> None:
        await self._redis.set(self._latest_key(workspace, channel, user), thread_ts, ex=self._ttl)

    async def latest_thread(self, workspace: str, channel: str, user: str) -> str | None:
        raw = await self._redis.get(self._latest_key(workspace, channel, user))
        return raw.decode() if isinstance(raw, bytes) else raw


_ASKS_FOR_HUMAN = re.compile(
    r"\b(talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+)?(human|person|agent|someone|real person)\b"
    r"|\b(human|live|real)\s+(agent|support|person)\b|\bget\s+(me\s+)?a\s+human\b"
    r"|转人工|人工客服|找人工|真人客服",
    re.IGNORECASE,
)


def asks_for_a_human(text: str) -> bool:
    """ "I want to talk to a human", "转人工" and the like."""
    return bool(_ASKS_FOR_HUMAN.search(text))
