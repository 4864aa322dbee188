from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from bot.intake.jobs import Job, JobAttachment, JobState
from bot.stores.jobs import RedisJobStore


@pytest.fixture
def store(redis: Redis, redis_prefix: str) -> RedisJobStore:
    return RedisJobStore(redis, prefix=redis_prefix)


def _job(job_id: str = "j1") -> Job:
    return Job(job_id, "zendesk", "42", "it fails", (JobAttachment("a.png", "https://x/a.png"),))


async def test_a_replayed_job_is_recorded_once(store: RedisJobStore) -> None:
    job = _job()
    assert await store.submit(job)
    assert not await store.submit(_job())
    assert (await store.claim(timeout=1)) == job
    assert await store.claim(timeout=1) is None


async def test_a_job_in_flight_when_the_process_died_is_queued_again(store: RedisJobStore) -> None:
    await store.submit(_job())
    claimed = await store.claim(timeout=1)
    assert claimed is not None
    # the process dies here: the job was never finished
    assert await store.recover() == 1
    again = await store.claim(timeout=1)
    assert again is not None and again.id == "j1"
    await store.finish(again.moved(JobState.DONE, result="answer"))
    assert await store.recover() == 0
    stored = await store.get("j1")
    assert stored is not None and stored.state is JobState.DONE and stored.result == "answer"


async def test_a_job_to_retry_waits_until_its_time(store: RedisJobStore) -> None:
    import time

    await store.submit(_job("later"))
    claimed = await store.claim(timeout=1)
    assert claimed is not None
    await store.retry_later(claimed.moved(JobState.RETRYING, attempts=1), time.time() + 3600)
    assert await store.claim(timeout=1) is None, "not due yet"
    assert await store.recover() == 0, "a waiting job is not in flight"
    await store.retry_later(claimed.moved(JobState.RETRYING, attempts=1), time.time() - 1)
    again = await store.claim(timeout=1)
    assert again is not None and again.id == "later" and again.attempts == 1


async def test_a_buried_job_is_listed_and_never_claimed_again(store: RedisJobStore) -> None:
    await store.submit(_job("bad"))
    claimed = await store.claim(timeout=1)
    assert claimed is not None
    await store.bury(claimed.moved(JobState.DEAD, error="403 refused"))
    assert await store.dead_letters() == ["bad"]
    assert await store.claim(timeout=1) is None and await store.recover() == 0
    stored = await store.get("bad")
    assert stored is not None and stored.state is JobState.DEAD and stored.error == "403 refused"


async def test_a_record_no_one_can_read_is_set_aside(
    store: RedisJobStore, redis_url: str, redis_prefix: str
) -> None:
    client = Redis.from_url(redis_url)
    await client.set(f"{redis_prefix}:job:garbled", b"[1, 2")
    await client.rpush(f"{redis_prefix}:jobs:queue", "garbled")
    await client.aclose()
    assert await store.claim(timeout=1) is None
    assert await store.dead_letters() == ["garbled"]
    assert await store.recover() == 0, "it is not left in flight to crash the next start"


async def test_two_replicas_never_both_take_a_due_job(
    store: RedisJobStore, redis_url: str, redis_prefix: str
) -> None:
    import time

    client = Redis.from_url(redis_url)
    other = RedisJobStore(client, prefix=redis_prefix)
    await store.submit(_job("once"))
    claimed = await store.claim(timeout=1)
    assert claimed is not None
    await store.retry_later(claimed, time.time() - 1)
    first, second = await asyncio.gather(store.claim(timeout=1), other.claim(timeout=1))
    await client.aclose()
    assert [j.id for j in (first, second) if j is not None] == ["once"]
