"""Claims on handled Slack messages: in this process only, or shared through Redis with `SET NX`."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from bot.intake.handled_events import DEFAULT_LEASE_SECONDS, DEFAULT_TTL_SECONDS
from bot.stores import keys


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
            keys.HANDLED.key(self._prefix, event=key), b"working", nx=True, ex=self._lease_seconds
        )
        return bool(claimed)

    async def complete(self, key: str) -> None:
        await self._redis.set(
            keys.HANDLED.key(self._prefix, event=key), b"done", ex=self._ttl_seconds
        )
