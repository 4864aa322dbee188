"""Helpdesk job stores: in this process only, or in Redis.

Redis keys: `JOB`, `JOBS_STREAM`, `JOBS_DELAYED` and `JOBS_DEAD` in `bot.stores.keys`.

Leases are a Redis Streams consumer group, Redis's own primitive for work held
by one consumer at a time (https://redis.io/docs/latest/develop/data-types/streams/):

- a queued job is an entry in the stream; `XREADGROUP` hands it to one replica
  (one consumer) and keeps it pending for that consumer until it is acknowledged;
- the entry's idle time is the lease: the replica renews it while it works
  (`XCLAIM … JUSTID` by its own holder resets the idle time);
- a replica that dies stops renewing; once the entry has been idle for a lease,
  another replica takes it over with `XAUTOCLAIM` (atomic: two replicas never both
  take it) and the take-over is logged and counted; a starting replica takes
  nothing else that is pending;
- a job that is over is acknowledged and deleted (`XACK`, `XDEL`); one to retry
  waits in the delayed set until due, then is added to the stream again; one
  handed back by a replica that stops is added again at once.

Every step that ends a lease checks, in the same script, that this replica still
holds it, so a replica that was taken over never acknowledges the new holder's work.

Jobs recorded by the list layout of earlier versions (`RETIRED` in `keys`) are
carried over: waiting ones join the stream, claimed ones wait one lease in the
delayed set (their holder may still be running them), so none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.intake.jobs import Job
from bot.observability import catalogue
from bot.observability.metrics import Metrics
from bot.stores import keys

log = logging.getLogger(__name__)

DEAD_LETTERS_KEPT = 1000
DEFAULT_LEASE_SECONDS = 30.0
GROUP = "runners"

# Record a job and queue it in one step: a crash between the two would leave a
# job recorded (so its replay is refused) that no one ever runs.
_SUBMIT = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 0
end
redis.call('XADD', KEYS[2], '*', 'job', ARGV[3])
return 1
"""

# Queue the due retries, and carry over what the list layout recorded, in one
# step, so two replicas never both queue the same id. KEYS: delayed, stream, old
# queue, old processing. ARGV: now, lease seconds.
_HOUSEKEEPING = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('XADD', KEYS[2], '*', 'job', id)
end
local carried = 0
for _, id in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
  redis.call('XADD', KEYS[2], '*', 'job', id)
  carried = carried + 1
end
local later = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
  redis.call('ZADD', KEYS[1], 'NX', later, id)
  carried = carried + 1
end
redis.call('DEL', KEYS[3], KEYS[4])
return carried
"""

# Take over the oldest entry whose lease ran out; say whose it was. XPENDING with
# IDLE and XAUTOCLAIM scan the pending entries in the same order, in one script,
# so the entry found is the entry claimed. ARGV: group, consumer, lease in ms.
_TAKE_OVER = """
local found = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', 1)
if #found == 0 then
  return false
end
local claimed = redis.call(
  'XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], found[1][1], 'COUNT', 1)
-- A consumer left with nothing pending is a replica that died: the group forgets it.
local previous = found[1][2]
local left = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, previous)
if previous ~= ARGV[2] and #left == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], previous)
end
local entry = claimed[2][1]
if entry == nil or entry[2] == nil then
  return {found[1][1], '', found[1][2], found[1][3]}
end
return {entry[1], entry[2][2], found[1][2], found[1][3]}
"""

# Renew: only the holder may, and the renewal neither moves nor re-counts the entry.
# ARGV: group, consumer, entry id.
_RENEW = """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #held == 0 or held[1][2] ~= ARGV[2] then
  return 0
end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""

# End a lease: acknowledge and delete the entry, write the job's record, and send
# the id where it goes next, only while this consumer still holds the entry.
# KEYS: stream, job record, delayed, dead. ARGV: group, consumer, entry id, how
# (finish, retry, bury, release, drop), record JSON ('' keeps it), TTL, job id, retry at.
_SETTLE = """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #held == 0 or held[1][2] ~= ARGV[2] then
  return 0
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
end
local how = ARGV[4]
if how == 'retry' then
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[7])
elseif how == 'bury' then
  redis.call('LPUSH', KEYS[4], ARGV[7])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[9]) - 1)
elseif how == 'release' then
  redis.call('XADD', KEYS[1], '*', 'job', ARGV[7])
end
return 1
"""


def consumer_name() -> str:
    """This replica's name in the consumer group: host, process and a random part."""
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40]
    return f"{host or 'host'}-{os.getpid()}-{secrets.token_hex(3)}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class InMemoryJobStore:
    """Jobs in this process only: they do not survive a restart. Leases as in Redis.

    A claimed job is held until its lease runs out without a renewal; then the next
    claim takes it over (logged and counted), as another replica would.
    """

    def __init__(
        self, *, lease_seconds: float = DEFAULT_LEASE_SECONDS, metrics: Metrics | None = None
    ) -> None:
        self.lease_seconds = lease_seconds
        self._metrics = metrics
        self._jobs: dict[str, Job] = {}
        self._ready: deque[str] = deque()
        self._arrived = asyncio.Event()
        self._held: dict[str, float] = {}  # job id -> monotonic time its lease runs out
        self._delayed: dict[str, float] = {}

    def _queue(self, job_id: str) -> None:
        self._ready.append(job_id)
        self._arrived.set()

    async def submit(self, job: Job) -> bool:
        if job.id in self._jobs:
            return False
        self._jobs[job.id] = job
        self._queue(job.id)
        return True

    async def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def save(self, job: Job) -> None:
        self._jobs[job.id] = job

    async def claim(self, timeout: float) -> Job | None:
        deadline = time.monotonic() + timeout
        while True:
            now = time.time()
            for job_id, at in list(self._delayed.items()):
                if at <= now:
                    del self._delayed[job_id]
                    self._queue(job_id)
            expired = [j for j, until in self._held.items() if until <= time.monotonic()]
            if expired:
                job_id = expired[0]
                _took_over(self._jobs.get(job_id), job_id, "this process", self._metrics)
                self._held[job_id] = time.monotonic() + self.lease_seconds
                return self._jobs[job_id]
            if self._ready:
                job_id = self._ready.popleft()
                self._held[job_id] = time.monotonic() + self.lease_seconds
                return self._jobs[job_id]
            # Wake up for a new job, a due retry or a lease running out.
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            soonest = [left]
            soonest += [at - now for at in self._delayed.values()]
            soonest += [until - time.monotonic() for until in self._held.values()]
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), max(min(soonest), 0.01))

    async def renew(self, job_id: str) -> bool:
        if job_id not in self._held:
            return False
        self._held[job_id] = time.monotonic() + self.lease_seconds
        return True

    async def finish(self, job: Job) -> None:
        self._jobs[job.id] = job
        self._held.pop(job.id, None)

    async def retry_later(self, job: Job, at: float) -> None:
        self._jobs[job.id] = job
        self._held.pop(job.id, None)
        self._delayed[job.id] = at

    async def bury(self, job: Job) -> None:
        self._jobs[job.id] = job
        self._held.pop(job.id, None)

    async def release(self, job: Job) -> None:
        self._jobs[job.id] = job
        if self._held.pop(job.id, None) is not None:
            self._queue(job.id)

    async def start(self) -> int:
        return 0

    async def stop(self) -> int:
        held = list(self._held)
        for job_id in held:
            await self.release(self._jobs[job_id])
        return len(held)


class RedisJobStore:
    """Jobs in Redis, leased through a consumer group; see the module docstring.

    Args:
        redis: the client.
        prefix: `REDIS_KEY_PREFIX`.
        ttl_seconds: how long a job's record is kept.
        lease_seconds: how long a claimed job stays this replica's without a renewal.
        consumer: this replica's name in the group (unique per process by default).
        metrics: where take-overs are counted.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "supportbot",
        ttl_seconds: int = 30 * 24 * 3600,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        consumer: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self.lease_seconds = lease_seconds
        self.consumer = consumer or consumer_name()
        self._metrics = metrics
        self._stream = keys.JOBS_STREAM.key(prefix)
        self._delayed = keys.JOBS_DELAYED.key(prefix)
        self._dead = keys.JOBS_DEAD.key(prefix)
        self._old_queue = keys.RETIRED_JOBS_QUEUE.key(prefix)
        self._old_processing = keys.RETIRED_JOBS_PROCESSING.key(prefix)
        self._held: dict[str, str] = {}  # job id -> the stream entry this replica holds
        # Jobs whose lease this replica is letting go right now: a renewal meanwhile is
        # not a lost lease (the work is ending; stopping it would cut the settle short).
        self._settling: set[str] = set()

    def _key(self, job_id: str) -> str:
        return keys.JOB.key(self._prefix, job=job_id)

    @property
    def _lease_ms(self) -> int:
        return max(int(self.lease_seconds * 1000), 1)

    async def submit(self, job: Job) -> bool:
        added = await self._redis.eval(
            _SUBMIT, 2, self._key(job.id), self._stream, job.to_json(), self._ttl, job.id
        )
        return bool(added)

    async def get(self, job_id: str) -> Job | None:
        raw = await self._redis.get(self._key(job_id))
        return Job.from_json(raw) if raw else None

    async def save(self, job: Job) -> None:
        await self._redis.set(self._key(job.id), job.to_json(), ex=self._ttl)

    async def start(self) -> int:
        await self._ensure_group()
        return await self._housekeeping()

    async def _ensure_group(self) -> None:
        try:
            # From the stream's first entry: jobs queued before the group existed count.
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def _housekeeping(self) -> int:
        carried = await self._redis.eval(
            _HOUSEKEEPING,
            4,
            self._delayed,
            self._stream,
            self._old_queue,
            self._old_processing,
            time.time(),
            self.lease_seconds,
        )
        if carried:
            log.info("carried over %d helpdesk jobs recorded by the list layout", carried)
        return int(carried)

    async def claim(self, timeout: float) -> Job | None:
        try:
            return await self._claim(timeout)
        except ResponseError as error:
            # The group is gone with the stream (a Redis restarted empty): make it again.
            if "NOGROUP" not in str(error):
                raise
        await self._ensure_group()
        return await self._claim(timeout)

    async def _claim(self, timeout: float) -> Job | None:
        await self._housekeeping()
        taken = await self._redis.eval(
            _TAKE_OVER, 1, self._stream, GROUP, self.consumer, self._lease_ms
        )
        if taken:
            entry, job_id, previous, idle_ms = (_text(part) for part in taken)
            if not job_id:  # its entry was deleted: XAUTOCLAIM dropped it
                return None
            self._held[job_id] = entry
            job = await self._read(job_id)
            _took_over(job, job_id, f"{previous} (idle {int(idle_ms) / 1000:.1f} s)", self._metrics)
            return job
        # [[stream, [(entry id, {b"job": id})]]] with RESP2, as this client speaks it.
        answer: Any = await self._redis.xreadgroup(
            GROUP,
            self.consumer,
            {self._stream: ">"},
            count=1,
            block=max(int(timeout * 1000), 1),
        )
        entries = answer[0][1] if answer else []
        if not entries:
            return None
        entry_id, fields = entries[0]
        job_id = _text(fields.get(b"job") or fields.get("job") or b"")
        self._held[job_id] = _text(entry_id)
        return await self._read(job_id)

    async def _read(self, job_id: str) -> Job | None:
        try:
            job = await self.get(job_id)
        except (ValueError, TypeError, KeyError) as error:
            # A record no runner can read would be claimed, fail and be taken over
            # forever: set it aside where an operator can see it.
            log.error("helpdesk job %s cannot be read (%s); dead-lettered", job_id, error)
            await self._settle(job_id, "bury", None)
            return None
        if job is None:  # its record expired while queued
            await self._settle(job_id, "drop", None)
        return job

    async def renew(self, job_id: str) -> bool:
        if job_id in self._settling:
            return True
        entry = self._held.get(job_id)
        if entry is None:
            return False
        renewed = await self._redis.eval(_RENEW, 1, self._stream, GROUP, self.consumer, entry)
        if not renewed and job_id in self._settling:
            return True  # the settle ran first: let go by this replica, not taken over
        if not renewed and self._held.get(job_id) == entry:
            self._held.pop(job_id, None)
        return bool(renewed)

    async def _settle(self, job_id: str, how: str, job: Job | None, *, at: float = 0.0) -> bool:
        entry = self._held.get(job_id)
        record = job.to_json() if job is not None else ""
        if entry is None:
            # Not claimed through this store (or already let go): only the record is written.
            if job is not None:
                await self.save(job)
            return False
        # The entry stays held until the script has answered, so a renewal meanwhile
        # neither reports the lease lost nor lets the work be cancelled mid-settle.
        self._settling.add(job_id)
        try:
            settled = await self._settle_entry(job_id, entry, how=how, record=record, at=at)
        finally:
            self._settling.discard(job_id)
            if self._held.get(job_id) == entry:
                del self._held[job_id]
        if not settled:
            log.warning(
                "helpdesk job %s was taken over by another replica before this one let it go"
                " (%s): the holder decides what happens to it",
                job_id,
                how,
            )
        return settled

    async def _settle_entry(
        self, job_id: str, entry: str, *, how: str, record: str, at: float
    ) -> bool:
        settled = await self._redis.eval(
            _SETTLE,
            4,
            self._stream,
            self._key(job_id),
            self._delayed,
            self._dead,
            GROUP,
            self.consumer,
            entry,
            how,
            record,
            self._ttl,
            job_id,
            at,
            DEAD_LETTERS_KEPT,
        )
        return bool(settled)

    async def finish(self, job: Job) -> None:
        await self._settle(job.id, "finish", job)

    async def retry_later(self, job: Job, at: float) -> None:
        await self._settle(job.id, "retry", job, at=at)

    async def bury(self, job: Job) -> None:
        await self._settle(job.id, "bury", job)

    async def release(self, job: Job) -> None:
        await self._settle(job.id, "release", job)

    async def dead_letters(self, limit: int = 100) -> list[str]:
        """Ids of the most recently dead-lettered jobs, newest first (`doctor` lists them)."""
        ids = await self._redis.lrange(self._dead, 0, limit - 1)
        return [_text(i) for i in ids]

    async def stop(self) -> int:
        handed = 0
        for job_id in list(self._held):
            job = await self.get(job_id)
            if await self._settle(job_id, "release", job):
                handed += 1
        pending = await self._redis.xpending_range(
            self._stream, GROUP, min="-", max="+", count=1, consumername=self.consumer
        )
        if not pending:
            # Nothing of ours is pending: the group forgets this replica.
            await self._redis.xgroup_delconsumer(self._stream, GROUP, self.consumer)
        return handed


def _took_over(job: Job | None, job_id: str, previous: str, metrics: Metrics | None) -> None:
    log.warning("taking over helpdesk job %s: its lease held by %s ran out", job_id, previous)
    if metrics is not None:
        provider = job.provider if job is not None else "unknown"
        metrics.count(catalogue.HELPDESK_TAKEN_OVER, provider=provider)
