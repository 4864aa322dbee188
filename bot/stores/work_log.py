"""The record of Slack questions accepted but not yet answered: nothing without
Redis (nothing survives the process anyway), or a Redis hash scanned after a restart.
"""

from __future__ import annotations

import json
import time

from redis.asyncio import Redis

from bot.stores import keys
from bot.stores.resilience import unavailable_on_error


class InMemoryWorkLog:
    """Without Redis nothing survives the process, so there is nothing to recover."""

    async def record(self, key: str, body: str) -> None:
        return None

    async def finish(self, key: str) -> None:
        return None

    async def unfinished(self, older_than_seconds: float) -> list[tuple[str, str]]:
        return []


class RedisWorkLog:
    """The work log in a Redis hash; a failed call raises `StoreUnavailable`."""

    def __init__(self, redis: Redis, *, prefix: str = "supportbot") -> None:
        self._redis = redis
        self._key = keys.UNANSWERED.key(prefix)

    async def record(self, key: str, body: str) -> None:
        entry = json.dumps({"at": time.time(), "body": body})
        with unavailable_on_error("work_log_record"):
            await self._redis.hsetnx(self._key, key, entry)

    async def finish(self, key: str) -> None:
        with unavailable_on_error("work_log_finish"):
            await self._redis.hdel(self._key, key)

    async def unfinished(self, older_than_seconds: float) -> list[tuple[str, str]]:
        cutoff = time.time() - older_than_seconds
        with unavailable_on_error("work_log_unfinished"):
            entries = await self._redis.hgetall(self._key)
        stale = []
        for raw_key, raw in entries.items():
            entry = json.loads(raw)
            if entry["at"] < cutoff:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                stale.append((key, str(entry["body"])))
        return stale
