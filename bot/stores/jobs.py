"""Helpdesk job stores: in this process only, or in Redis.

Keys: `JOB`, `JOBS_QUEUE`, `JOBS_PROCESSING`, `JOBS_DELAYED` and `JOBS_DEAD` in
`bot.stores.keys`. A claimed id moves atomically from the queue to processing; a
job to retry waits in the delayed set until due; a dead-lettered job's id is kept
in the dead list, newest first.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis

from bot.intake.jobs import Job
from bot.stores import keys

log = logging.getLogger(__name__)

DEAD_LETTERS_KEPT = 1000

# Move every due id from the delayed set to the queue in one step, so two
# replicas never both queue the same id.
_PROMOTE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('RPUSH', KEYS[2], id)
end
return #due
"""


class InMemoryJobStore:
    """Jobs in this process only: they do not survive a restart."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._delayed: dict[str, float] = {}
        self._dead: list[str] = []

    async def submit(self, job: Job) -> bool:
        if job.id in self._jobs:
            return False
        self._jobs[job.id] = job
        self._queue.put_nowait(job.id)
        return True

    async def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def save(self, job: Job) -> None:
        self._jobs[job.id] = job

    async def claim(self, timeout: float) -> Job | None:
        now = time.time()
        for job_id, at in list(self._delayed.items()):
            if at <= now:
                del self._delayed[job_id]
                self._queue.put_nowait(job_id)
        # Wake up in time for the next delayed job.
        wait = min([timeout, *(at - now for at in self._delayed.values())])
        try:
            job_id = await asyncio.wait_for(self._queue.get(), max(wait, 0.01))
        except TimeoutError:
            return None
        return self._jobs[job_id]

    async def finish(self, job: Job) -> None:
        self._jobs[job.id] = job

    async def retry_later(self, job: Job, at: float) -> None:
        self._jobs[job.id] = job
        self._delayed[job.id] = at

    async def bury(self, job: Job) -> None:
        self._jobs[job.id] = job
        self._dead.insert(0, job.id)
        del self._dead[DEAD_LETTERS_KEPT:]

    async def dead_letters(self, limit: int = 100) -> list[str]:
        return self._dead[:limit]

    async def recover(self) -> int:
        return 0


class RedisJobStore:
    """Jobs in Redis; see the module docstring for the layout."""

    def __init__(
        self, redis: Redis, *, prefix: str = "supportbot", ttl_seconds: int = 30 * 24 * 3600
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._queue = keys.JOBS_QUEUE.key(prefix)
        self._processing = keys.JOBS_PROCESSING.key(prefix)
        self._delayed = keys.JOBS_DELAYED.key(prefix)
        self._dead = keys.JOBS_DEAD.key(prefix)

    def _key(self, job_id: str) -> str:
        return keys.JOB.key(self._prefix, job=job_id)

    async def submit(self, job: Job) -> bool:
        if not await self._redis.set(self._key(job.id), job.to_json(), nx=True, ex=self._ttl):
            return False
        await self._redis.rpush(self._queue, job.id)
        return True

    async def get(self, job_id: str) -> Job | None:
        raw = await self._redis.get(self._key(job_id))
        return Job.from_json(raw) if raw else None

    async def save(self, job: Job) -> None:
        await self._redis.set(self._key(job.id), job.to_json(), ex=self._ttl)

    async def claim(self, timeout: float) -> Job | None:
        await self._redis.eval(_PROMOTE_DUE, 2, self._delayed, self._queue, time.time())
        raw = await self._redis.blmove(
            self._queue, self._processing, max(1, round(timeout)), "LEFT", "RIGHT"
        )
        if raw is None:
            return None
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            job = await self.get(job_id)
        except (ValueError, TypeError, KeyError) as error:
            # A record no runner can read would be claimed, fail and be resumed
            # forever: set it aside where an operator can see it.
            log.error("helpdesk job %s cannot be read (%s); dead-lettered", job_id, error)
            await self._set_aside(job_id)
            return None
        if job is None:  # expired while queued
            await self._redis.lrem(self._processing, 1, job_id)
        return job

    async def _set_aside(self, job_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self._processing, 1, job_id)
            pipe.lpush(self._dead, job_id)
            pipe.ltrim(self._dead, 0, DEAD_LETTERS_KEPT - 1)
            await pipe.execute()

    async def finish(self, job: Job) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(job.id), job.to_json(), ex=self._ttl)
            pipe.lrem(self._processing, 1, job.id)
            await pipe.execute()

    async def retry_later(self, job: Job, at: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(job.id), job.to_json(), ex=self._ttl)
            pipe.zadd(self._delayed, {job.id: at})
            pipe.lrem(self._processing, 1, job.id)
            await pipe.execute()

    async def bury(self, job: Job) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(job.id), job.to_json(), ex=self._ttl)
            pipe.lrem(self._processing, 1, job.id)
            pipe.lpush(self._dead, job.id)
            pipe.ltrim(self._dead, 0, DEAD_LETTERS_KEPT - 1)
            await pipe.execute()

    async def dead_letters(self, limit: int = 100) -> list[str]:
        ids = await self._redis.lrange(self._dead, 0, limit - 1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def recover(self) -> int:
        moved = 0
        while await self._redis.lmove(self._processing, self._queue, "RIGHT", "LEFT"):
            moved += 1
        return moved
