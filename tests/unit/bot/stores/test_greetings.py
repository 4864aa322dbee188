"""Greetings given: once a day per person, shared through Redis, and never a failed opening."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.errors import StoreUnavailable
from bot.observability.metrics import Metrics
from bot.stores.greetings import InMemoryGreetings, RedisGreetings, ResilientGreetings
from bot.stores.resilience import RedisOutage
from handlers.slack.assistant import should_greet
from tests.support.down_redis import down_redis


async def test_in_memory_greets_each_person_of_each_workspace_once() -> None:
    greetings = InMemoryGreetings()
    assert await greetings.first_today("T1", "U1")
    assert not await greetings.first_today("T1", "U1")
    assert await greetings.first_today("T1", "U2")
    assert await greetings.first_today("T2", "U1")  # another workspace, another person


async def test_redis_greetings_hold_across_clients_for_a_day(
    redis: Redis, redis_url: str, redis_prefix: str
) -> None:
    other = Redis.from_url(redis_url)  # a second replica, or this one after a restart
    try:
        assert await RedisGreetings(redis, prefix=redis_prefix).first_today("T1", "U1")
        assert not await RedisGreetings(other, prefix=redis_prefix).first_today("T1", "U1")
        assert await RedisGreetings(other, prefix=redis_prefix).first_today("T1", "U2")
    finally:
        await other.aclose()
    assert 23 * 3600 < await redis.ttl(f"{redis_prefix}:greeted:T1:U1") <= 24 * 3600


async def test_redis_down_raises_the_bots_error_and_the_opening_still_greets() -> None:
    client = down_redis()
    greetings = RedisGreetings(client)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await greetings.first_today("T1", "U1")
        assert raised.value.operation == "greeting"
        assert await should_greet(greetings, "T1", "U1")  # cannot tell: greet, do not fail
        metrics = Metrics()
        resilient = ResilientGreetings(greetings, RedisOutage(metrics))
        # While Redis is down this process remembers: one greeting, not one per opening.
        assert await resilient.first_today("T1", "U1")
        assert not await resilient.first_today("T1", "U1")
    finally:
        await client.aclose()
