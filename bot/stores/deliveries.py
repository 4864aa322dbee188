"""Delivery logs: in this process only, or in Redis (key `DELIVERY` in `bot.stores.keys`)."""

from __future__ import annotations

import hashlib
import time

from redis.asyncio import Redis

from bot.intake.deliveries import DEFAULT_TTL_SECONDS
from bot.stores import keys


def _digest(delivery_id: str) -> str:
    # The id is the vendor's text: hashed, it cannot shape the key.
    return hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class InMemoryDeliveryLog:
    """Deliveries seen by this process, forgotten after the TTL."""

    def __init__(self, *, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._seen: dict[tuple[str, str], tuple[str, float]] = {}

    async def claim(self, provider: str, delivery_id: str, job_id: str) -> str | None:
        now = time.monotonic()
        key = (provider, _digest(delivery_id))
        seen = self._seen.get(key)
        if seen is not None and seen[1] > now:
            return seen[0]
        self._seen[key] = (job_id, now + self._ttl)
        return None


class RedisDeliveryLog:
    """Deliveries in Redis, shared by every replica."""

    def __init__(
        self, redis: Redis, *, prefix: str = "supportbot", ttl_seconds: int = DEFAULT_TTL_SECONDS
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    async def claim(self, provider: str, delivery_id: str, job_id: str) -> str | None:
        key = keys.DELIVERY.key(self._prefix, provider=provider, digest=_digest(delivery_id))
        # SET NX GET: one round trip, and two replicas cannot both claim it.
        previous = await self._redis.set(key, job_id, nx=True, get=True, ex=self._ttl)
        if previous is None:
            return None
        return previous.decode() if isinstance(previous, bytes) else str(previous)
