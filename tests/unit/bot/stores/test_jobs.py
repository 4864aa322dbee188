from __future__ import annotations

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
