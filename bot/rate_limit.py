"""Per-user and per-channel request rates, counted in fixed windows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0  # seconds until the window resets, when not allowed


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window: int) -> RateDecision:
        """Count one request for `key`; allowed while at most `limit` fall in `window` seconds."""
        ...


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
        name = f"{self._prefix}:rate:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        if int(count) <= limit:
            return RateDecision(True)
        return RateDecision(False, max(1, int(ttl)))
