from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from bot.stores.deliveries import InMemoryDeliveryLog, RedisDeliveryLog


@pytest.fixture
def log(redis: Redis, redis_prefix: str) -> RedisDeliveryLog:
    return RedisDeliveryLog(redis, prefix=redis_prefix)


async def test_the_first_claim_wins_and_later_ones_see_its_job(log: RedisDeliveryLog) -> None:
    assert await log.claim("zendesk", "8350205582", "job-a") is None
    assert await log.claim("zendesk", "8350205582", "job-b") == "job-a"
    assert await log.claim("jira", "8350205582", "job-c") is None, "ids are per vendor"


async def test_concurrent_redeliveries_make_one_claim(
    log: RedisDeliveryLog, redis_url: str, redis_prefix: str
) -> None:
    client = Redis.from_url(redis_url)
    other = RedisDeliveryLog(client, prefix=redis_prefix)
    results = await asyncio.gather(
        *((log if i % 2 else other).claim("intercom", "notif_1", f"job-{i}") for i in range(10))
    )
    await client.aclose()
    winners = [i for i, found in enumerate(results) if found is None]
    assert len(winners) == 1
    assert {found for found in results if found is not None} == {f"job-{winners[0]}"}


async def test_a_hostile_id_cannot_shape_the_key(
    log: RedisDeliveryLog, redis_url: str, redis_prefix: str
) -> None:
    await log.claim("zendesk", "*\r\n:job:x \udcff", "job-a")
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(f"{redis_prefix}:*")]
    await client.aclose()
    [key] = keys
    assert key.decode().rsplit(":", 1)[1].isalnum()


async def test_in_memory_log_behaves_alike() -> None:
    memory = InMemoryDeliveryLog()
    assert await memory.claim("zendesk", "1", "job-a") is None
    assert await memory.claim("zendesk", "1", "job-b") == "job-a"
