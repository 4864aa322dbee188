"""Slack questions recorded before they are acknowledged, so a crash loses none.

A Bolt middleware records each question-bearing event (by its event id) before
Bolt acknowledges it, over HTTP and Socket Mode; handling it removes the record. Events still there
after a lease (longer than any answer may take) belonged to a process that
died: they are handed to the listeners once more, whose dedup claim has run
out by then, so the question is answered exactly once.
"""

from __future__ import annotations

import json
import time
from typing import Protocol

from redis.asyncio import Redis


class WorkLog(Protocol):
    async def record(self, key: str, body: str) -> None: ...

    async def finish(self, key: str) -> None: ...

    async def unfinished(self, older_than_seconds: float) -> list[tuple[str, str]]:
        """(key, body) of work recorded longer ago than `older_than_seconds`."""
        ...


class InMemoryWorkLog:
    """Without Redis nothing survives the process, so there is nothing to recover."""

    async def record(self, key: str, body: str) -> None:
        return None

    async def finish(self, key: str) -> None:
        return None

    async def unfinished(self, older_than_seconds: float) -> list[tuple[str, str]]:
        return []


class RedisWorkLog:
    def __init__(self, redis: Redis, *, prefix: str = "supportbot") -> None:
        self._redis = redis
        self._key = f"{prefix}:slack:unanswered"

    async def record(self, key: str, body: str) -> None:
        entry = json.dumps({"at": time.time(), "body": body})
        await self._redis.hsetnx(self._key, key, entry)

    async def finish(self, key: str) -> None:
        await self._redis.hdel(self._key, key)

    async def unfinished(self, older_than_seconds: float) -> list[tuple[str, str]]:
        cutoff = time.time() - older_than_seconds
        entries = await self._redis.hgetall(self._key)
        stale = []
        for raw_key, raw in entries.items():
            entry = json.loads(raw)
            if entry["at"] < cutoff:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                stale.append((key, str(entry["body"])))
        return stale
