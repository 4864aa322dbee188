from __future__ import annotations

import asyncio
import contextlib
import time

from redis.asyncio import Redis

from bot.observability.metrics import Metrics
from bot.stores.jobs import GROUP, RedisJobStore
from handlers.webhooks.runner import JobRunner


async def test_a_store_that_cannot_start_is_tried_again_not_given_up(
    redis: Redis, redis_prefix: str
) -> None:
    """A store failing as the runner starts (here: the stream's key holds a string, so the
    consumer group cannot be made) is retried; once it can start, the runner claims."""
    stream = f"{redis_prefix}:jobs:stream"
    await redis.set(stream, "not a stream")
    store = RedisJobStore(redis, prefix=redis_prefix, lease_seconds=1.0)
    runner = JobRunner(store, diagnosers={}, notes={}, metrics=Metrics())
    task = asyncio.create_task(runner.run_forever())
    try:
        await asyncio.sleep(0.2)
        assert not task.done(), "the runner kept trying"
        await redis.delete(stream)
        deadline = time.monotonic() + 10
        groups: list[dict[str, object]] = []
        while not groups and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.1)
            if await redis.exists(stream):
                groups = await redis.xinfo_groups(stream)
        assert [g["name"] for g in groups] == [GROUP.encode()]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
