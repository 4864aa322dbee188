"""Keep answering when Redis is down: each store on the answer path degrades instead of failing.

Dedup falls back to this process's memory (greetings too: bot/stores/greetings.py),
history reads as empty and writes are skipped, rate limits let requests through,
thread cases read as "with the bot", a screenshot's error line reads as not kept
(the pass runs again).
The outage is logged once when it starts and once when it ends, and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from redis.exceptions import RedisError

from bot.conversation.error_lines import ErrorLineStore
from bot.conversation.escalation import CaseStore, ThreadCase
from bot.conversation.history import HistoryStore
from bot.conversation.turns import HistoryEntry, ThreadKey
from bot.errors import StoreUnavailable
from bot.intake.handled_events import HandledEvents
from bot.intake.rate_limit import RateDecision, RateLimiter
from bot.observability import catalogue
from bot.observability.metrics import Metrics
from bot.stores.handled_events import InMemoryHandledEvents

log = logging.getLogger(__name__)

T = TypeVar("T")
# What the Redis client raises when the server is down or the connection drops
# (`TimeoutError` is an `OSError`; redis-py's own timeouts are `RedisError`s).
_CLIENT_ERRORS = (RedisError, OSError)
_OUTAGE_ERRORS = (StoreUnavailable, *_CLIENT_ERRORS)


@contextmanager
def unavailable_on_error(operation: str) -> Iterator[None]:
    """Turn the Redis client's errors raised inside the block into `StoreUnavailable`.

    The one translation for the stores whose callers outside `bot.stores` must
    know that a call failed: they catch the bot's error, not the client's.

    Example:
        >>> with unavailable_on_error("work_log_finish"):
        ...     raise ConnectionError("refused")
        Traceback (most recent call last):
        bot.errors.StoreUnavailable: work_log_finish: refused
    """
    try:
        yield
    except _CLIENT_ERRORS as error:
        raise StoreUnavailable(operation, str(error)) from error


class RedisOutage:
    """Shared view of whether Redis answers; runs calls with a fallback value."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.down = False

    async def call(self, what: str, operation: Awaitable[T], fallback: T) -> T:
        try:
            result = await operation
        except _OUTAGE_ERRORS as error:
            if not self.down:
                log.warning("Redis is unreachable (%s: %s); answering without it", what, error)
            self.down = True
            self._metrics.count(catalogue.REDIS_ERRORS, operation=what)
            return fallback
        if self.down:
            log.info("Redis is back")
            self.down = False
        return result


class ResilientHandledEvents:
    """Claims in Redis; in this process's memory while Redis is down."""

    def __init__(self, primary: HandledEvents, outage: RedisOutage) -> None:
        self._primary = primary
        self._local = InMemoryHandledEvents()
        self._outage = outage

    async def claim(self, key: str) -> bool:
        # The local record is kept in any case, so retries during an outage stay deduplicated.
        local = await self._local.claim(key)
        sentinel = object()
        claimed = await self._outage.call("dedup", self._primary.claim(key), sentinel)
        return local if claimed is sentinel else bool(claimed) and local

    async def complete(self, key: str) -> None:
        await self._local.complete(key)
        await self._outage.call("dedup_complete", self._primary.complete(key), None)


class ResilientHistory:
    def __init__(self, primary: HistoryStore, outage: RedisOutage) -> None:
        self._primary = primary
        self._outage = outage

    async def append(self, thread: ThreadKey, entry: HistoryEntry) -> None:
        await self._outage.call("history_append", self._primary.append(thread, entry), None)

    async def load(self, thread: ThreadKey) -> list[HistoryEntry]:
        return await self._outage.call("history_load", self._primary.load(thread), [])

    async def has_thread(self, thread: ThreadKey) -> bool | None:
        # Down, the store cannot tell: None lets the transport ask elsewhere (Slack).
        unknown: bool | None = None
        return await self._outage.call(
            "history_has_thread", self._primary.has_thread(thread), unknown
        )


class ResilientRateLimiter:
    def __init__(self, primary: RateLimiter, outage: RedisOutage) -> None:
        self._primary = primary
        self._outage = outage

    async def hit(self, key: str, *, limit: int, window: int) -> RateDecision:
        return await self._outage.call(
            "rate_limit", self._primary.hit(key, limit=limit, window=window), RateDecision(True)
        )


class ResilientCases:
    def __init__(self, primary: CaseStore, outage: RedisOutage) -> None:
        self._primary = primary
        self._outage = outage

    async def get(self, thread: ThreadKey) -> ThreadCase:
        return await self._outage.call("case_get", self._primary.get(thread), ThreadCase(thread))

    async def save(self, case: ThreadCase) -> None:
        await self._outage.call("case_save", self._primary.save(case), None)

    async def remember_thread(
        self, workspace: str, channel: str, user: str, thread_ts: str
    ) -> None:
        await self._outage.call(
            "case_remember",
            self._primary.remember_thread(workspace, channel, user, thread_ts),
            None,
        )

    async def latest_thread(self, workspace: str, channel: str, user: str) -> str | None:
        return await self._outage.call(
            "case_latest", self._primary.latest_thread(workspace, channel, user), None
        )


class ResilientErrorLines:
    """Down, no line is known and none is kept: each answer runs its pass."""

    def __init__(self, primary: ErrorLineStore, outage: RedisOutage) -> None:
        self._primary = primary
        self._outage = outage

    async def get(self, digest: str, *, version: int) -> str | None:
        return await self._outage.call(
            "error_line_get", self._primary.get(digest, version=version), None
        )

    async def put(self, digest: str, line: str, *, version: int) -> None:
        await self._outage.call(
            "error_line_put", self._primary.put(digest, line, version=version), None
        )
