from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.conversation.feedback import Verdict
from bot.conversation.turns import ThreadKey
from bot.intake.rate_limit import RateLimiter, RateRule
from bot.observability import catalogue
from bot.observability.metrics import Metrics
from bot.safety.redaction import Kind, RedactionStats
from bot.stores import keys
from bot.stores.feedback import RedisFeedbackStore
from bot.stores.rate_limit import InMemoryRateLimiter, RedisRateLimiter


def _limiter(backend: str, redis: Redis, prefix: str) -> RateLimiter:
    return InMemoryRateLimiter() if backend == "memory" else RedisRateLimiter(redis, prefix=prefix)


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_rate_limiter_allows_the_limit_then_says_when_to_retry(
    backend: str, redis: Redis, redis_prefix: str
) -> None:
    limiter = _limiter(backend, redis, redis_prefix)
    decisions = [await limiter.hit("user:T1:U1", limit=3, window=60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 1 <= decisions[-1].retry_after <= 60
    assert (await limiter.hit("user:T1:U2", limit=3, window=60)).allowed, "counted per key"


async def test_feedback_keeps_each_users_latest_verdict(redis: Redis, redis_prefix: str) -> None:
    store = RedisFeedbackStore(redis, prefix=redis_prefix, ttl_seconds=600)
    thread = ThreadKey.for_slack("T1", "C1", "1.0")
    await store.record(thread, "U1", Verdict.NOT_HELPFUL)
    await store.record(thread, "U1", Verdict.SOLVED)
    await store.record(thread, "U2", Verdict.NOT_HELPFUL)
    # Read as an operator reads it: the thread's hash in the keyspace (docs/architecture.md).
    key = keys.FEEDBACK.key(redis_prefix, thread=thread.as_key())
    assert await redis.hgetall(key) == {b"U1": b"solved", b"U2": b"not_helpful"}
    assert 0 < await redis.ttl(key) <= 600


def test_metrics_render_as_prometheus_text() -> None:
    redactions = RedactionStats()
    redactions.record(Kind.EMAIL)
    metrics = Metrics(redactions=redactions)
    metrics.count(catalogue.FEEDBACK, verdict="solved")
    metrics.count(catalogue.FEEDBACK, verdict="solved")
    metrics.count(catalogue.RATE_LIMITED)
    metrics.observe(catalogue.SLACK_ACK_SECONDS, 0.02)
    text = metrics.render()
    assert 'supportbot_feedback_total{verdict="solved"} 2.0' in text
    assert "supportbot_rate_limited_total 1.0" in text
    assert 'supportbot_redactions_total{kind="email"} 1.0' in text
    assert "# TYPE supportbot_feedback_total counter" in text
    assert 'supportbot_slack_ack_seconds_bucket{le="0.025"} 1.0' in text
    assert metrics.value(catalogue.FEEDBACK, verdict="solved") == 2


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_each_rule_counts_apart_and_a_limit_of_zero_is_off(
    backend: str, redis: Redis, redis_prefix: str
) -> None:
    limiter = _limiter(backend, redis, redis_prefix)
    per_person, per_team = RateRule("escalate", 1, 3600), RateRule("stream-start", 1, 60)
    assert (await per_person.hit(limiter, "T1:U1")).allowed
    assert (await per_team.hit(limiter, "T1:U1")).allowed, "another rule, another count"
    refused = await per_person.hit(limiter, "T1:U1")
    assert not refused.allowed and 60 < refused.retry_after <= 3600  # the rule's own window
    off = RateRule("user", 0)
    assert all([(await off.hit(limiter, "T1:U1")).allowed for _ in range(5)])


async def test_the_in_memory_limiter_keeps_running_windows_when_it_drops_ended_ones() -> None:
    limiter = InMemoryRateLimiter(capacity=10)
    assert (await limiter.hit("user:T1:LIVE", limit=1, window=60)).allowed
    for number in range(50):  # one-off subjects whose windows have ended: dropped
        await limiter.hit(f"user:T1:U{number}", limit=1, window=0)
    assert not (await limiter.hit("user:T1:LIVE", limit=1, window=60)).allowed
