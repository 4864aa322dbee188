"""Durable helpdesk jobs: recorded before the webhook is answered, held by leases while run.

A job is written once (a replayed delivery makes no second job) and claimed by
one runner, which holds it for a lease it renews while it works. A runner that
dies stops renewing: once its lease has run out, another takes the job over; a
runner that stops gracefully hands its job back at once. A job that fails for a
reason that may pass waits and is tried again, up to a limit; one that cannot
succeed, or has used up its attempts, is dead-lettered with its reason. The
stores are in `bot.stores.jobs`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"  # failed, waiting for its next attempt (`next_attempt_at`)
    DONE = "done"
    FAILED = "failed"  # kept for jobs recorded before dead-lettering existed
    IGNORED = "ignored"  # the bot's own write, echoed back by the helpdesk: nothing to answer
    DEAD = "dead"  # gave up: `error` says why; listed with the store's dead letters


TERMINAL_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.IGNORED, JobState.DEAD})


@dataclass(frozen=True)
class JobAttachment:
    """A file named by the delivery; `unavailable` (a `Message` value) when it cannot be read."""

    name: str
    url: str
    size: int | None = None
    unavailable: str | None = None


@dataclass(frozen=True)
class Job:
    """One ticket (or ticket comment) to diagnose and answer with an internal note."""

    id: str
    provider: str
    ticket_id: str
    text: str
    attachments: tuple[JobAttachment, ...] = ()
    state: JobState = JobState.QUEUED
    result: str | None = None
    error: str | None = None
    note_posted: bool = False
    # Who wrote what the delivery is about, so the bot's own notes are recognised when the
    # helpdesk echoes them back, and which comment it was (its files are read by its id).
    actor_id: str | None = None
    comment_id: str | None = None
    kind: str = ""
    # The note's POST was sent at least once: before sending again, look for it
    # (a timed-out POST may have been applied).
    note_attempted: bool = False
    attempts: int = 0
    next_attempt_at: float | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def moved(self, state: JobState, **changes: Any) -> Job:
        return replace(self, state=state, updated_at=time.time(), **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Job:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a stored job is not a JSON object")
        data["attachments"] = tuple(JobAttachment(**a) for a in data["attachments"])
        data["state"] = JobState(data["state"])
        return cls(**data)

    def public_view(self) -> dict[str, Any]:
        """What `GET /jobs/{id}` shows: state and the (filtered) diagnosis, not the ticket."""
        return {
            "id": self.id,
            "provider": self.provider,
            "ticket": self.ticket_id,
            "state": self.state.value,
            "result": self.result,
            "error": self.error,
            "note_posted": self.note_posted,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class JobStore(Protocol):
    """Where jobs are recorded and leased. One store object is one runner (one replica)."""

    lease_seconds: float
    """How long a claimed job stays this runner's without a renewal."""

    async def submit(self, job: Job) -> bool:
        """Record and queue `job`; False when a job with its id already exists (a replay)."""
        ...

    async def get(self, job_id: str) -> Job | None: ...

    async def save(self, job: Job) -> None: ...

    async def claim(self, timeout: float) -> Job | None:
        """The next job this runner may run, held under a lease; None after `timeout` s.

        A job whose holder's lease has run out is taken over (and logged) before a new
        one is taken.
        """
        ...

    async def renew(self, job_id: str) -> bool:
        """Extend this runner's lease on `job_id`; False when it no longer holds it."""
        ...

    async def finish(self, job: Job) -> None:
        """Save `job` and let its lease go: it is over."""
        ...

    async def retry_later(self, job: Job, at: float) -> None:
        """Save `job`, let its lease go and queue it again at unix time `at`."""
        ...

    async def bury(self, job: Job) -> None:
        """Save `job`, let its lease go and add it to the dead letters."""
        ...

    async def release(self, job: Job) -> None:
        """Save `job` and hand it back unfinished: any runner may claim it at once."""
        ...

    async def start(self) -> int:
        """Get ready to claim; how many jobs recorded by an older layout were carried over."""
        ...

    async def stop(self) -> int:
        """Hand back every job this runner still holds; how many."""
        ...
