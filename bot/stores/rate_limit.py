"""Fixed-window rate counters: in this process only, or shared through Redis."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from bot.intake.rate_limit import RateDecision
from bot.stores import keys


class InMemoryRateLimiter:
    """Windows in this process only."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, *, limit: int, window: int) -> RateDecision:
        now = time.monotonic()
        started, count = self._windows.get(key, (now, 0))
        if now - started >= window:
            started, count = now, 0
        count += 1
        self._windows[key] = (started, count)
        if count <= limit:
            return RateDecision(True)
        return RateDecision(False, max(1, int(started + window - now + 0.999)))


class RedisRateLimiter:
    """Windows in Redis (`INCR` + `EXPIRE NX`), shared by every replica."""

    def __init__(self, redis: Redis, *, prefix: str = "supportbot") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, *, limit: int, window: int) -> RateDecision:
        name = keys.RATE.key(self._prefix, subject=key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        if int(count) <= limit:
            return RateDecision(True)
        return RateDecision(False, max(1, int(ttl)))
