from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
from redis.asyncio import Redis

from bot.intake.jobs import Job, JobState
from bot.observability.metrics import Metrics
from bot.stores.jobs import GROUP, RedisJobStore
from handlers.helpdesks.base import Notes
from handlers.helpdesks.zendesk.notes import ZendeskNoteFormat
from handlers.webhooks.runner import JobRunner
from tests.support.fake_helpdesk import ZENDESK_EMAIL, ZENDESK_TOKEN, FakeHelpdesk
from tests.support.servers import ServerThread

LEASE = 1.0


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


async def test_a_runner_that_lost_its_lease_posts_no_note(
    redis: Redis, redis_url: str, redis_prefix: str
) -> None:
    """Replica A stalled past its lease and B took the job over; A wakes up mid-run (its
    keeper has not renewed yet). A must not post the note: B posts it, once."""
    fake = FakeHelpdesk()
    other = Redis.from_url(redis_url)
    first = RedisJobStore(redis, prefix=redis_prefix, lease_seconds=LEASE)
    second = RedisJobStore(other, prefix=redis_prefix, lease_seconds=LEASE)
    try:
        with ServerThread(fake.app) as api:
            fake.url = api.url
            fake.add_zendesk_ticket(6101, "Export fails", [])
            auth = (f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN)
            async with httpx.AsyncClient(base_url=api.url, auth=auth) as client:
                notes = Notes(client, ZendeskNoteFormat())
                runners = [
                    JobRunner(store, diagnosers={}, notes={"zendesk": notes}, metrics=Metrics())
                    for store in (first, second)
                ]
                await first.start()
                await first.submit(Job("z1", "zendesk", "6101", "text", result="the answer"))
                stale = await first.claim(timeout=1)
                assert stale is not None
                deadline = time.monotonic() + 20 * LEASE
                taken = None
                while taken is None and time.monotonic() < deadline:
                    taken = await second.claim(timeout=0.1)
                assert taken is not None, "never taken over"

                await runners[0].process(stale)
                assert fake.notes("zendesk") == [], "the replica that lost the job posted"
                record = await second.get("z1")
                assert record is not None and not record.note_attempted

                done = await runners[1].process(taken)
                assert done.state is JobState.DONE
                assert len(fake.notes("zendesk")) == 1
    finally:
        await other.aclose()
