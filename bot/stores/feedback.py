"""Where ✅/👎 verdicts live: in memory without Redis, or one hash per thread in Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.conversation.feedback import Verdict
from bot.conversation.turns import ThreadKey
from bot.stores import keys


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
        return keys.FEEDBACK.key(self._prefix, thread=thread.as_key())

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
