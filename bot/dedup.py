"""Remember which Slack messages were handled, so each gets one answer.

Slack retries an event it thinks was not acknowledged, and sends both an
`app_mention` and a `message` for one post that mentions the bot. Whoever claims
a message first answers it; everyone else sees the claim and stays quiet.

A claim is a lease while the answer is being written, and becomes a day-long
record once it is done: if the process that claimed a message dies mid-answer,
the lease runs out and the message can be answered after all (see
`bot/work_log.py`), still never twice.
"""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis

DEFAULT_TTL_SECONDS = 24 * 3600
DEFAULT_LEASE_SECONDS = 15 * 60


class HandledEvents(Protocol):
    async def claim(self, key: str) -> bool:
        """True for the first caller with this key (within lease or TTL), False for later ones."""
        ...

    async def complete(self, key: str) -> None:
        """The answer is out: keep the claim for the full TTL."""
        ...


class InMemoryHandledEvents:
    """Claims in this process only: forgotten on restart."""

    def __init__(
        self, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, lease_seconds: int = DEFAULT_LEASE_SECONDS
    ) -> None:
        self._ttl_seconds = ttl_seconds
        self._lease_seconds = min(lease_seconds, ttl_seconds)
        self._claimed: dict[str, float] = {}

    async def claim(self, key: str) -> bool:
        now = time.monotonic()
        if len(self._claimed) > 10_000:
            self._claimed = {k: t for k, t in self._claimed.items() if t > now}
        if self._claimed.get(key, 0.0) > now:
            return False
        self._claimed[key] = now + self._lease_seconds
        return True

    async def complete(self, key: str) -> None:
        self._claimed[key] = time.monotonic() + self._ttl_seconds


class RedisHandledEvents:
    """Claims in Redis (`SET NX EX`): hold across restarts and between replicas."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "supportbot",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_seconds = ttl_seconds
        self._lease_seconds = min(lease_seconds, ttl_seconds)

    async def claim(self, key: str) -> bool:
        claimed = await self._redis.set(
            f"{self._prefix}:handled:{key}", b"working", nx=True, ex=self._lease_seconds
        )
        return bool(claimed)

    async def complete(self, key: str) -> None:
        await self._redis.set(f"{self._prefix}:handled:{key}", b"done", ex=self._ttl_seconds)
