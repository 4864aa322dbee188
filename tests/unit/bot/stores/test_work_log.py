"""The Redis work log: what it keeps, and the bot's own error when Redis does not answer."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.errors import BotError, StoreUnavailable
from bot.stores.work_log import RedisWorkLog
from tests.support.down_redis import down_redis


async def test_a_recorded_question_is_unfinished_until_it_is_finished(
    redis: Redis, redis_prefix: str
) -> None:
    log = RedisWorkLog(redis, prefix=redis_prefix)
    await log.record("Ev1", '{"event": 1}')
    assert await log.unfinished(-60) == [("Ev1", '{"event": 1}')]
    assert await log.unfinished(3600) == []  # recorded just now: within its lease
    await log.finish("Ev1")
    assert await log.unfinished(-60) == []


@pytest.mark.parametrize("call", ["record", "finish", "unfinished"])
async def test_redis_down_raises_the_bots_error_naming_the_call(call: str) -> None:
    client = down_redis()
    log = RedisWorkLog(client)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            if call == "record":
                await log.record("Ev1", "{}")
            elif call == "finish":
                await log.finish("Ev1")
            else:
                await log.unfinished(0)
    finally:
        await client.aclose()
    assert isinstance(raised.value, BotError)
    assert raised.value.operation == f"work_log_{call}"
    assert raised.value.cause  # the client's reason, for the log line
    assert not isinstance(raised.value.__cause__, BotError)  # the client's error is kept
