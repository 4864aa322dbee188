"""Screenshots' error lines: in this process without Redis, or in Redis for every replica.

The line is what the model read off a screenshot, already redacted by
`ErrorLineReader`; it is kept by the image's SHA-256 and the pass's prompt
version (key `ERROR_LINE` in `bot.stores.keys`), so neither a restart, another
replica nor the other transport pays the pass again for the same image.
"""

from __future__ import annotations

from cachetools import LRUCache
from redis.asyncio import Redis

from bot.stores import keys
from bot.stores.resilience import unavailable_on_error

CACHE_IMAGES = 2048


class InMemoryErrorLineStore:
    """The newest `size` images' lines of this process; the least recently read go first."""

    def __init__(self, *, size: int = CACHE_IMAGES) -> None:
        self._lines: LRUCache[tuple[int, str], str] = LRUCache(maxsize=size)

    async def get(self, digest: str, *, version: int) -> str | None:
        return self._lines.get((version, digest))

    async def put(self, digest: str, line: str, *, version: int) -> None:
        self._lines[(version, digest)] = line


class RedisErrorLineStore:
    """One string per image, expiring `ttl_seconds` after it was last read or written;
    a failed call raises `StoreUnavailable`."""

    def __init__(
        self, redis: Redis, *, prefix: str = "supportbot", ttl_seconds: int = 7 * 24 * 3600
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, digest: str, version: int) -> str:
        return keys.ERROR_LINE.key(self._prefix, version=str(version), digest=digest)

    async def get(self, digest: str, *, version: int) -> str | None:
        # GETEX renews the TTL: an image still being asked about keeps its line.
        with unavailable_on_error("error_line_get"):
            raw = await self._redis.getex(self._key(digest, version), ex=self._ttl)
        if raw is None:
            return None
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    async def put(self, digest: str, line: str, *, version: int) -> None:
        with unavailable_on_error("error_line_put"):
            await self._redis.set(self._key(digest, version), line.encode(), ex=self._ttl)
