"""Where escalation cases live: in memory without Redis, or one JSON value per thread in Redis."""

from __future__ import annotations

import json
from dataclasses import asdict, astuple

from redis.asyncio import Redis

from bot.conversation.escalation import ThreadCase, ThreadStatus
from bot.conversation.turns import ThreadKey
from bot.stores import keys

# A case's thread is stored under the names it had before `ThreadKey` fitted tickets too, so
# cases already stored read back and new ones are written the same way.
_STORED_THREAD = ("workspace", "channel", "thread_ts")


def _to_json(case: ThreadCase) -> str:
    data = asdict(case)
    data["thread"] = dict(zip(_STORED_THREAD, astuple(case.thread), strict=True))
    return json.dumps(data)


def _from_json(raw: str | bytes) -> ThreadCase:
    data = json.loads(raw)
    data["thread"] = ThreadKey(*(data["thread"][name] for name in _STORED_THREAD))
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
        return keys.CASE.key(self._prefix, thread=thread.as_key())

    async def get(self, thread: ThreadKey) -> ThreadCase:
        raw = await self._redis.get(self._key(thread))
        return _from_json(raw) if raw else ThreadCase(thread)

    async def save(self, case: ThreadCase) -> None:
        await self._redis.set(self._key(case.thread), _to_json(case), ex=self._ttl)

    def _latest_key(self, workspace: str, channel: str, user: str) -> str:
        return keys.LATEST_THREAD.key(self._prefix, workspace=workspace, channel=channel, user=user)

    async def remember_thread(
        self, workspace: str, channel: str, user: str, thread_ts: str
    ) -> None:
        await self._redis.set(self._latest_key(workspace, channel, user), thread_ts, ex=self._ttl)

    async def latest_thread(self, workspace: str, channel: str, user: str) -> str | None:
        raw = await self._redis.get(self._latest_key(workspace, channel, user))
        return raw.decode() if isinstance(raw, bytes) else raw
