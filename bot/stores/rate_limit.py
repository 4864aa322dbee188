"""Fixed-window rate counters: in this process only, or shared through Redis."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from bot.intake.rate_limit import RateDecision
from bot.stores import keys


class InMemoryRateLimiter:
    """Windows in this process only; windows past their end are dropped as keys pile up."""

    def __init__(self, *, capacity: int = 10_000) -> None:
        self._windows: dict[str, tuple[float, int, int]] = {}  # key -> start, count, window
        self._capacity = capacity

    async def hit(self, key: str, *, limit: int, window: int) -> RateDecision:
        now = time.monotonic()
        if len(self._windows) > self._capacity:
            self._windows = {k: w for k, w in self._windows.items() if now - w[0] < w[2]}
        started, count, _ = self._windows.get(key, (now, 0, window))
        if now - started >= window:
            started, count = now, 0
        count += 1
        self._windows[key] = (started, count, window)
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
