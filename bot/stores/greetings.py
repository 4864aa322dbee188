"""Greetings given: in this process only, or shared through Redis with `SET NX EX`."""

from __future__ import annotations

import time

from cachetools import TTLCache
from redis.asyncio import Redis

from bot.intake.greetings import GREETING_INTERVAL_SECONDS, Greetings
from bot.stores import keys
from bot.stores.resilience import RedisOutage, unavailable_on_error


class InMemoryGreetings:
    """Greetings in this process only: forgotten on restart, bounded in size."""

    def __init__(
        self, *, interval_seconds: int = GREETING_INTERVAL_SECONDS, capacity: int = 100_000
    ) -> None:
        self._greeted: TTLCache[tuple[str, str], bool] = TTLCache(
            maxsize=capacity, ttl=interval_seconds, timer=time.monotonic
        )

    async def first_today(self, workspace: str, user: str) -> bool:
        if self._greeted.get((workspace, user)):
            return False
        self._greeted[(workspace, user)] = True
        return True


class RedisGreetings:
    """Greetings in Redis, shared by every replica and kept across restarts; a failed call
    raises `StoreUnavailable`."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "supportbot",
        interval_seconds: int = GREETING_INTERVAL_SECONDS,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._interval = interval_seconds

    async def first_today(self, workspace: str, user: str) -> bool:
        name = keys.GREETED.key(self._prefix, workspace=workspace, user=user)
        with unavailable_on_error("greeting"):
            return bool(await self._redis.set(name, b"1", nx=True, ex=self._interval))


class ResilientGreetings:
    """Greetings in Redis; in this process's memory while Redis is down (another replica
    may greet a person once more then, never on every opening). Beside its store, as
    bot/stores/resilience.py's wrappers are, which this module's store itself uses."""

    def __init__(self, primary: Greetings, outage: RedisOutage) -> None:
        self._primary = primary
        self._local = InMemoryGreetings()
        self._outage = outage

    async def first_today(self, workspace: str, user: str) -> bool:
        local = await self._local.first_today(workspace, user)  # kept for an outage
        shared = await self._outage.call(
            "greeting", self._primary.first_today(workspace, user), None
        )
        return local if shared is None else shared
