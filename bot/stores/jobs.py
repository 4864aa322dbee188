"""Helpdesk job stores: in this process only, or in Redis.

Keys: `JOB`, `JOBS_QUEUE` and `JOBS_PROCESSING` in `bot.stores.keys`.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from bot.intake.jobs import Job
from bot.stores import keys


class InMemoryJobStore:
    """Jobs in this process only: they do not survive a restart."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()

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
        try:
            job_id = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        return self._jobs[job_id]

    async def finish(self, job: Job) -> None:
        self._jobs[job.id] = job

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
        raw = await self._redis.blmove(
            self._queue, self._processing, max(1, round(timeout)), "LEFT", "RIGHT"
        )
        if raw is None:
            return None
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        job = await self.get(job_id)
        if job is None:  # expired while queued
            await self._redis.lrem(self._processing, 1, job_id)
        return job

    async def finish(self, job: Job) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(job.id), job.to_json(), ex=self._ttl)
            pipe.lrem(self._processing, 1, job.id)
            await pipe.execute()

    async def recover(self) -> int:
        moved = 0
        while await self._redis.lmove(self._processing, self._queue, "RIGHT", "LEFT"):
            moved += 1
        return moved
