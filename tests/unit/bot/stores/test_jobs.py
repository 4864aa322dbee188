from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.intake.jobs import Job, JobAttachment, JobState
from bot.observability.catalogue import HELPDESK_TAKEN_OVER
from bot.observability.metrics import Metrics
from bot.stores.jobs import InMemoryJobStore, RedisJobStore

LEASE = 1.0


@pytest.fixture
def store(redis: Redis, redis_prefix: str) -> RedisJobStore:
    return RedisJobStore(redis, prefix=redis_prefix, lease_seconds=LEASE)


@pytest.fixture
async def other(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisJobStore]:
    """A second replica on the same Redis, with its own connection."""
    client = Redis.from_url(redis_url)
    yield RedisJobStore(client, prefix=redis_prefix, lease_seconds=LEASE)
    await client.aclose()


def _job(job_id: str = "j1") -> Job:
    return Job(job_id, "zendesk", "42", "it fails", (JobAttachment("a.png", "https://x/a.png"),))


async def test_a_replayed_job_is_recorded_once(store: RedisJobStore) -> None:
    job = _job()
    assert await store.start() == 0
    assert await store.submit(job)
    assert not await store.submit(_job())
    assert (await store.claim(timeout=1)) == job
    assert await store.claim(timeout=1) is None


async def test_a_starting_replica_takes_nothing_that_is_still_held(
    store: RedisJobStore, other: RedisJobStore
) -> None:
    await store.start()
    await store.submit(_job())
    assert await store.claim(timeout=1) is not None
    assert await other.start() == 0
    assert await other.claim(timeout=0.1) is None, "held: the lease has not run out"


async def test_a_lease_kept_renewed_is_never_taken_over(
    store: RedisJobStore, other: RedisJobStore
) -> None:
    await store.start()
    await other.start()
    await store.submit(_job())
    assert await store.claim(timeout=1) is not None
    for _ in range(6):  # twice the lease, renewed every third of it
        await asyncio.sleep(LEASE / 3)
        assert await store.renew("j1")
        assert await other.claim(timeout=0.01) is None


async def test_a_replica_that_stops_renewing_loses_its_job_after_one_lease(
    store: RedisJobStore, redis_url: str, redis_prefix: str
) -> None:
    metrics = Metrics()
    client = Redis.from_url(redis_url)
    other = RedisJobStore(client, prefix=redis_prefix, lease_seconds=LEASE, metrics=metrics)
    await store.start()
    await other.start()
    await store.submit(_job())
    assert await store.claim(timeout=1) is not None
    claimed_at = time.monotonic()
    # the replica dies here: no more renewals
    taken = None
    while taken is None and time.monotonic() - claimed_at < 20 * LEASE:
        taken = await other.claim(timeout=0.1)
    assert taken is not None, "never taken over"
    waited = time.monotonic() - claimed_at
    assert taken.id == "j1" and waited >= LEASE
    assert metrics.value(HELPDESK_TAKEN_OVER, provider="zendesk") == 1
    consumers = await client.xinfo_consumers(f"{redis_prefix}:jobs:stream", "runners")
    assert [c["name"].decode() for c in consumers] == [other.consumer], "the dead one forgotten"
    # The old holder comes back: it holds nothing, and cannot end the new holder's lease.
    assert not await store.renew("j1")
    await store.finish(taken.moved(JobState.DONE))
    assert await other.renew("j1"), "still the new holder's"
    await other.finish(taken.moved(JobState.DONE, result="answer"))
    assert not await other.renew("j1")
    assert await store.claim(timeout=0.1) is None and await other.claim(timeout=0.1) is None
    await client.aclose()


async def test_a_replica_that_stops_hands_its_jobs_back_at_once(
    store: RedisJobStore, other: RedisJobStore
) -> None:
    await store.start()
    await other.start()
    await store.submit(_job())
    assert await store.claim(timeout=1) is not None
    assert await store.stop() == 1
    again = await other.claim(timeout=0.1)
    assert again is not None and again.id == "j1"


async def test_a_job_to_retry_waits_until_its_time(store: RedisJobStore) -> None:
    await store.start()
    await store.submit(_job("later"))
    claimed = await store.claim(timeout=1)
    assert claimed is not None
    await store.retry_later(claimed.moved(JobState.RETRYING, attempts=1), time.time() + 0.5)
    assert await store.claim(timeout=0.1) is None, "not due yet"
    assert not await store.renew("later"), "a waiting job is held by no one"
    await asyncio.sleep(0.5)
    again = await store.claim(timeout=1)
    assert again is not None and again.id == "later" and again.attempts == 1


async def test_a_buried_job_is_listed_and_never_claimed_again(store: RedisJobStore) -> None:
    await store.start()
    await store.submit(_job("bad"))
    claimed = await store.claim(timeout=1)
    assert claimed is not None
    await store.bury(claimed.moved(JobState.DEAD, error="403 refused"))
    assert await store.dead_letters() == ["bad"]
    await asyncio.sleep(LEASE)
    assert await store.claim(timeout=1) is None
    stored = await store.get("bad")
    assert stored is not None and stored.state is JobState.DEAD and stored.error == "403 refused"


async def test_a_record_no_one_can_read_is_set_aside(
    store: RedisJobStore, redis_url: str, redis_prefix: str
) -> None:
    client = Redis.from_url(redis_url)
    await client.set(f"{redis_prefix}:job:garbled", b"[1, 2")
    await client.xadd(f"{redis_prefix}:jobs:stream", {"job": "garbled"})
    await client.aclose()
    await store.start()
    assert await store.claim(timeout=1) is None
    assert await store.dead_letters() == ["garbled"]
    await asyncio.sleep(LEASE)
    assert await store.claim(timeout=0.1) is None, "it is not left held to come back"


async def test_two_replicas_never_both_take_a_due_job(
    store: RedisJobStore, other: RedisJobStore
) -> None:
    await store.start()
    await store.submit(_job("once"))
    claimed = await store.claim(timeout=1)
    assert claimed is not None
    await store.retry_later(claimed, time.time() - 1)
    first, second = await asyncio.gather(store.claim(timeout=1), other.claim(timeout=1))
    assert [j.id for j in (first, second) if j is not None] == ["once"]


async def test_two_replicas_never_both_take_over_an_expired_job(
    store: RedisJobStore, redis_url: str, redis_prefix: str
) -> None:
    await store.start()
    await store.submit(_job("orphan"))
    assert await store.claim(timeout=1) is not None
    await asyncio.sleep(LEASE)
    clients = [Redis.from_url(redis_url) for _ in range(3)]
    replicas = [RedisJobStore(c, prefix=redis_prefix, lease_seconds=LEASE) for c in clients]
    taken = await asyncio.gather(*(r.claim(timeout=0.2) for r in replicas))
    for client in clients:
        await client.aclose()
    assert [j.id for j in taken if j is not None] == ["orphan"]


async def test_jobs_recorded_by_the_list_layout_each_run_once_after_the_upgrade(
    redis_url: str, redis_prefix: str
) -> None:
    """What the previous version wrote: records, a queue list, a processing list (a job a
    replica of that version had claimed) and the delayed set. Two new replicas start."""
    old = Redis.from_url(redis_url)
    ids = {"waiting-1", "waiting-2", "claimed-1", "retry-due", "retry-later"}
    for job_id in sorted(ids):
        await old.set(f"{redis_prefix}:job:{job_id}", _job(job_id).to_json())
    await old.rpush(f"{redis_prefix}:jobs:queue", "waiting-1", "waiting-2")
    await old.rpush(f"{redis_prefix}:jobs:processing", "claimed-1")
    await old.zadd(
        f"{redis_prefix}:jobs:delayed", {"retry-due": time.time() - 1, "retry-later": time.time()}
    )
    await old.aclose()

    clients = [Redis.from_url(redis_url) for _ in range(2)]
    replicas = [RedisJobStore(c, prefix=redis_prefix, lease_seconds=LEASE) for c in clients]
    carried = await asyncio.gather(*(r.start() for r in replicas))
    assert sorted(carried) == [0, 3], "carried over once, by one replica"

    runs: list[str] = []

    async def work(replica: RedisJobStore) -> None:
        deadline = time.monotonic() + 10 * LEASE
        while time.monotonic() < deadline and len(runs) < len(ids):
            job = await replica.claim(timeout=0.1)
            if job is not None:
                runs.append(job.id)
                await replica.finish(job.moved(JobState.DONE))

    started = time.monotonic()
    await asyncio.gather(*(work(r) for r in replicas))
    for client in clients:
        await client.aclose()
    assert sorted(runs) == sorted(ids), "every job ran, once"
    # The claimed one may still be running in a replica of the old version: it waits a lease.
    assert time.monotonic() - started >= LEASE * 0.9
    check = Redis.from_url(redis_url)
    left = [k async for k in check.scan_iter(f"{redis_prefix}:jobs:*")]
    await check.aclose()
    assert sorted(k.decode() for k in left) == [f"{redis_prefix}:jobs:stream"]


async def test_jobs_in_memory_are_leased_the_same_way() -> None:
    metrics = Metrics()
    store = InMemoryJobStore(lease_seconds=0.3, metrics=metrics)
    assert await store.start() == 0
    assert await store.submit(_job("a")) and not await store.submit(_job("a"))
    assert await store.submit(_job("b"))
    first = await store.claim(timeout=1)
    assert first is not None and first.id == "a"
    assert await store.renew("a")
    second = await store.claim(timeout=1)
    assert second is not None and second.id == "b"
    await store.finish(second.moved(JobState.DONE))
    assert not await store.renew("b")
    # "a" is never renewed again: its lease runs out and it is taken over.
    again = await store.claim(timeout=1)
    assert again is not None and again.id == "a"
    assert metrics.value(HELPDESK_TAKEN_OVER, provider="zendesk") == 1
    await store.retry_later(again, time.time() + 0.2)
    assert not await store.renew("a")
    due = await store.claim(timeout=1)
    assert due is not None and due.id == "a"
    assert await store.stop() == 1
    handed = await store.claim(timeout=0.1)
    assert handed is not None and handed.id == "a"
    await store.bury(handed.moved(JobState.DEAD, error="no"))
    buried = await store.get("a")
    assert buried is not None and buried.state is JobState.DEAD
    assert await store.claim(timeout=0.4) is None


async def test_a_renewal_while_the_job_is_being_let_go_is_not_a_lost_lease(
    store: RedisJobStore,
) -> None:
    """The lease keeper may renew while the job's end is on its way to Redis: that renewal
    must not read as a take-over, or the runner would cancel its own settle half-way."""
    await store.start()
    await store.submit(_job("ending"))
    claimed = await store.claim(timeout=1)
    assert claimed is not None
    _, renewed = await asyncio.gather(
        store.finish(claimed.moved(JobState.DONE, result="answer")), store.renew("ending")
    )
    assert renewed, "still this replica's while it lets the job go"
    assert not await store.renew("ending"), "let go: held by no one"
    stored = await store.get("ending")
    assert stored is not None and stored.state is JobState.DONE
    assert await store.claim(timeout=0.1) is None
