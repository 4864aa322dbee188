"""Where ✅/👎 verdicts live: one hash per thread in Redis, for whoever reads the keyspace.

Without Redis a verdict is only counted (`supportbot_feedback_total`): nothing in the bot
reads verdicts back, so kept in memory they would only grow with every thread.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.conversation.feedback import Verdict
from bot.conversation.turns import ThreadKey
from bot.stores import keys


class InMemoryFeedbackStore:
    """Keeps nothing: the verdict is counted by the caller, and no one reads it back."""

    async def record(self, thread: ThreadKey, user_id: str, verdict: Verdict) -> None:
        return None


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
