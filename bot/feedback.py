"""What users said about an answer: solved, or not helpful. Kept per thread."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from redis.asyncio import Redis

from bot.turns import ThreadKey


class Verdict(StrEnum):
    SOLVED = "solved"
    NOT_HELPFUL = "not_helpful"


class FeedbackStore(Protocol):
    async def record(self, thread: ThreadKey, user_id: str, verdict: Verdict) -> None:
        """Keep `user_id`'s verdict on the thread (a later click replaces an earlier one)."""
        ...

    async def verdicts(self, thread: ThreadKey) -> dict[str, Verdict]: ...


class InMemoryFeedbackStore:
    def __init__(self) -> None:
        self._verdicts: dict[ThreadKey, dict[str, Verdict]] = {}

    async def record(self, thread: ThreadKey, user_id: str, verdict: Verdict) -> None:
        self._verdicts.setdefault(thread, {})[user_id] = verdict

    async def verdicts(self, thread: ThreadKey) -> dict[str, Verdict]:
        return dict(self._verdicts.get(thread, {}))


class RedisFeedbackStore:
    """One hash per thread, user → verdict, expiring with the thread's history."""

    def __init__(
        self, redis: Redis, *, prefix: str = "supportbot", ttl_seconds: int = 90 * 24 * 3600
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_seconds = ttl_seconds

    def _key(self, thread: ThreadKey) -> str:
        return f"{self._prefix}:feedback:{thread.as_key()}"

    async def record(self, thread: ThreadKey, user_id: str, verdict: Verdict) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(thread), user_id, verdict.value)
            pipe.expire(self._key(thread), self._ttl_seconds)
            await pipe.execute()

    async def verdicts(self, thread: ThreadKey) -> dict[str, Verdict]:
        raw = await self._redis.hgetall(self._key(thread))
        return {_text(user): Verdict(_text(value)) for user, value in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
