"""Build every store from `Settings`: in Redis when `REDIS_URL` is set, in memory otherwise."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from bot.conversation.error_lines import ErrorLineStore
from bot.conversation.escalation import CaseStore
from bot.conversation.feedback import FeedbackStore
from bot.conversation.history import HistoryStore
from bot.conversation.knowledge import KnowledgeBase
from bot.intake.deliveries import DeliveryLog
from bot.intake.greetings import Greetings
from bot.intake.handled_events import HandledEvents
from bot.intake.jobs import JobStore
from bot.intake.rate_limit import RateLimiter
from bot.intake.work_log import WorkLog
from bot.observability.metrics import Metrics
from bot.settings import Settings
from bot.stores.cases import InMemoryCaseStore, RedisCaseStore
from bot.stores.deliveries import InMemoryDeliveryLog, RedisDeliveryLog
from bot.stores.error_lines import InMemoryErrorLineStore, RedisErrorLineStore
from bot.stores.feedback import InMemoryFeedbackStore, RedisFeedbackStore
from bot.stores.greetings import InMemoryGreetings, RedisGreetings, ResilientGreetings
from bot.stores.handled_events import InMemoryHandledEvents, RedisHandledEvents
from bot.stores.history import InMemoryHistoryStore, RedisHistoryStore
from bot.stores.jobs import InMemoryJobStore, RedisJobStore
from bot.stores.knowledge import InMemoryKnowledgeBase, RedisKnowledgeBase
from bot.stores.rate_limit import InMemoryRateLimiter, RedisRateLimiter
from bot.stores.resilience import (
    RedisOutage,
    ResilientCases,
    ResilientErrorLines,
    ResilientHandledEvents,
    ResilientHistory,
    ResilientRateLimiter,
)
from bot.stores.work_log import InMemoryWorkLog, RedisWorkLog

log = logging.getLogger(__name__)


def build_redis(settings: Settings) -> Redis | None:
    """A Redis client with explicit timeouts, or None when `REDIS_URL` is unset."""
    if settings.redis_url is None:
        return None
    return redis_client(settings.redis_url)


def redis_client(url: str) -> Redis:
    """The bot's client for `url`. Short, explicit timeouts and retries: no call waits long
    on a Redis that is down (redis-py's own default retries three times, backing off to 10 s)."""
    return Redis.from_url(
        url,
        socket_timeout=2.0,
        socket_connect_timeout=1.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        decode_responses=False,
    )


@dataclass(frozen=True)
class Stores:
    """Everything kept between messages: in Redis, or in memory without `REDIS_URL`."""

    history: HistoryStore
    handled: HandledEvents
    feedback: FeedbackStore
    limiter: RateLimiter
    jobs: JobStore
    cases: CaseStore
    knowledge: KnowledgeBase
    work_log: WorkLog
    deliveries: DeliveryLog
    greetings: Greetings
    error_lines: ErrorLineStore


def build_stores(settings: Settings, redis: Redis | None, metrics: Metrics) -> Stores:
    """Stores in Redis (each on the answer path degrading while Redis is down), or in memory."""
    if redis is None:
        log.info(
            "REDIS_URL is not set: history, dedup, rates, greetings in memory; verdicts: counted"
        )
        return Stores(
            history=InMemoryHistoryStore(
                max_turns=settings.history_max_turns, ttl_seconds=settings.history_ttl_seconds
            ),
            handled=InMemoryHandledEvents(lease_seconds=int(settings.work_lease_seconds)),
            feedback=InMemoryFeedbackStore(),
            limiter=InMemoryRateLimiter(),
            jobs=InMemoryJobStore(lease_seconds=settings.job_lease_seconds, metrics=metrics),
            cases=InMemoryCaseStore(),
            knowledge=InMemoryKnowledgeBase(),
            work_log=InMemoryWorkLog(),
            deliveries=InMemoryDeliveryLog(),
            greetings=InMemoryGreetings(),
            error_lines=InMemoryErrorLineStore(),
        )
    prefix = settings.redis_key_prefix
    outage = RedisOutage(metrics)
    history = RedisHistoryStore(
        redis,
        prefix=prefix,
        max_turns=settings.history_max_turns,
        ttl_seconds=settings.history_ttl_seconds,
    )
    return Stores(
        history=ResilientHistory(history, outage),
        handled=ResilientHandledEvents(
            RedisHandledEvents(
                redis, prefix=prefix, lease_seconds=int(settings.work_lease_seconds)
            ),
            outage,
        ),
        feedback=RedisFeedbackStore(redis, prefix=prefix),
        limiter=ResilientRateLimiter(RedisRateLimiter(redis, prefix=prefix), outage),
        jobs=RedisJobStore(
            redis, prefix=prefix, lease_seconds=settings.job_lease_seconds, metrics=metrics
        ),
        cases=ResilientCases(RedisCaseStore(redis, prefix=prefix), outage),
        knowledge=RedisKnowledgeBase(redis, prefix=prefix),
        work_log=RedisWorkLog(redis, prefix=prefix),
        deliveries=RedisDeliveryLog(redis, prefix=prefix),
        greetings=ResilientGreetings(RedisGreetings(redis, prefix=prefix), outage),
        # Read before each bare screenshot's pass, by every replica and transport.
        error_lines=ResilientErrorLines(
            RedisErrorLineStore(redis, prefix=prefix, ttl_seconds=settings.history_ttl_seconds),
            outage,
        ),
    )
