"""Past resolutions: in memory without Redis, or a capped Redis list searched lexically."""

from __future__ import annotations

import json
from dataclasses import asdict

from redis.asyncio import Redis

from bot.conversation.knowledge import LexicalIndex, Resolution
from bot.stores import keys


class InMemoryKnowledgeBase:
    def __init__(self) -> None:
        self._resolutions: list[Resolution] = []

    async def add(self, resolution: Resolution) -> None:
        self._resolutions.append(resolution)

    async def all(self) -> list[Resolution]:
        return list(self._resolutions)

    async def similar(
        self, query: str, *, limit: int = 3, where: tuple[str, str] | None = None
    ) -> list[Resolution]:
        return LexicalIndex(self._resolutions).search(query, limit=limit, where=where)


class RedisKnowledgeBase:
    """Resolutions as a Redis list; the index is rebuilt when the list has grown."""

    def __init__(self, redis: Redis, *, prefix: str = "supportbot", keep: int = 5000) -> None:
        self._redis = redis
        self._key = keys.KNOWLEDGE.key(prefix)
        self._keep = keep
        self._index: LexicalIndex | None = None
        self._indexed = -1

    async def add(self, resolution: Resolution) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._key, json.dumps(asdict(resolution), ensure_ascii=False))
            pipe.ltrim(self._key, -self._keep, -1)
            await pipe.execute()

    async def all(self) -> list[Resolution]:
        raw = await self._redis.lrange(self._key, 0, -1)
        return [Resolution(**json.loads(item)) for item in raw]

    async def similar(
        self, query: str, *, limit: int = 3, where: tuple[str, str] | None = None
    ) -> list[Resolution]:
        size = await self._redis.llen(self._key)
        if self._index is None or size != self._indexed:
            raw = await self._redis.lrange(self._key, 0, -1)
            self._index = LexicalIndex([Resolution(**json.loads(item)) for item in raw])
            self._indexed = size
        return self._index.search(query, limit=limit, where=where)
