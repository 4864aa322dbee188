from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from bot.stores.handled_events import InMemoryHandledEvents, RedisHandledEvents


async def test_in_memory_claims_once() -> None:
    handled = InMemoryHandledEvents()
    assert await handled.claim("T1:C1:1.0")
    assert not await handled.claim("T1:C1:1.0")
    assert await handled.claim("T1:C1:2.0")


async def test_redis_claims_hold_across_clients(redis_url: str, redis_prefix: str) -> None:
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        assert await RedisHandledEvents(first, prefix=redis_prefix).claim("T1:C1:1.0")
        # a second process (or the same one after a restart) sees the claim
        assert not await RedisHandledEvents(second, prefix=redis_prefix).claim("T1:C1:1.0")
        assert 0 < await first.ttl(f"{redis_prefix}:handled:T1:C1:1.0") <= 24 * 3600
    finally:
        await first.delete(f"{redis_prefix}:handled:T1:C1:1.0")
        await first.aclose()
        await second.aclose()


async def test_in_memory_claim_expires_after_its_ttl() -> None:
    handled = InMemoryHandledEvents(ttl_seconds=1)
    assert await handled.claim("k")
    await asyncio.sleep(1.1)
    assert await handled.claim("k")
