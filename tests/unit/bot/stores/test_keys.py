"""What the stores write to a real Redis is exactly the declared keyspace."""

from __future__ import annotations

import re
import time
from pathlib import Path

from redis.asyncio import Redis

from bot.conversation.escalation import ThreadCase
from bot.conversation.feedback import Verdict
from bot.conversation.knowledge import Resolution
from bot.conversation.turns import HistoryEntry, Screenshot, Speaker, ThreadKey
from bot.intake.jobs import Job
from bot.stores import keys
from bot.stores.cases import RedisCaseStore
from bot.stores.deliveries import RedisDeliveryLog
from bot.stores.error_lines import RedisErrorLineStore
from bot.stores.feedback import RedisFeedbackStore
from bot.stores.greetings import RedisGreetings
from bot.stores.handled_events import RedisHandledEvents
from bot.stores.history import RedisHistoryStore
from bot.stores.jobs import RedisJobStore
from bot.stores.knowledge import RedisKnowledgeBase
from bot.stores.rate_limit import RedisRateLimiter
from bot.stores.work_log import RedisWorkLog
from tests.support.screenshots import render_error_screenshot

STORES = Path(__file__).resolve().parents[4] / "bot" / "stores"
THREAD = ThreadKey.for_slack("T1", "C1", "1700000000.000100")


def _matcher(pattern: keys.KeyPattern, prefix: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", pattern.pattern)
    regex = "".join(
        re.escape(prefix)
        if index == 1 and part == "prefix"
        else (".+" if index % 2 else re.escape(part))
        for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


async def test_every_key_written_is_declared_with_its_type_and_expiry(
    redis: Redis, redis_prefix: str
) -> None:
    prefix = redis_prefix
    shot = Screenshot("err.png", "image/png", render_error_screenshot(), 640, 400)
    await RedisHistoryStore(redis, prefix=prefix).append(
        THREAD, HistoryEntry(Speaker.USER, "what is this?", (shot,))
    )
    handled = RedisHandledEvents(redis, prefix=prefix)
    await handled.claim("Ev1")
    await RedisWorkLog(redis, prefix=prefix).record("Ev2", "{}")
    await RedisRateLimiter(redis, prefix=prefix).hit("user:U1", limit=5, window=60)
    await RedisFeedbackStore(redis, prefix=prefix).record(THREAD, "U1", Verdict.SOLVED)
    cases = RedisCaseStore(redis, prefix=prefix)
    await cases.save(ThreadCase(THREAD))
    await cases.remember_thread("T1", "C1", "U1", THREAD.thread_id)
    await RedisKnowledgeBase(redis, prefix=prefix).add(
        Resolution("ImportError", "missing module", "pip install", "U2", THREAD.as_key())
    )
    jobs = RedisJobStore(redis, prefix=prefix)
    for number in range(1, 5):
        await jobs.submit(Job(id=f"j{number}", provider="zendesk", ticket_id="1", text="help"))
    to_retry, to_bury = await jobs.claim(timeout=1), await jobs.claim(timeout=1)
    assert to_retry is not None and to_bury is not None
    await jobs.retry_later(to_retry, time.time() + 3600)
    await jobs.bury(to_bury)
    await jobs.claim(timeout=1)  # j3 in flight, j4 queued
    await RedisDeliveryLog(redis, prefix=prefix).claim("zendesk", "8350205582", "j1")
    await RedisGreetings(redis, prefix=prefix).first_today("T1", "U1")
    await RedisErrorLineStore(redis, prefix=prefix).put("ab" * 32, "ACME-4012", version=1)

    written = sorted([key.decode() async for key in redis.scan_iter(f"{prefix}:*")])
    matched: set[keys.KeyPattern] = set()
    for key in written:
        patterns = [p for p in keys.KEYSPACE if _matcher(p, prefix).match(key)]
        assert len(patterns) == 1, f"{key} matches {patterns}"
        pattern = patterns[0]
        matched.add(pattern)
        assert await redis.type(key) == pattern.type.encode(), key
        expires = await redis.ttl(key) > 0
        assert expires == (not pattern.ttl.startswith("none")), f"{key}: declared {pattern.ttl!r}"
    assert matched == set(keys.KEYSPACE), "each declared pattern was written by its store"


def test_no_store_spells_a_key_of_its_own() -> None:
    for path in STORES.glob("*.py"):
        if path.name == "keys.py":
            continue
        assert not re.search(r'f"\{(self\._)?prefix\}:', path.read_text()), path.name


async def test_slack_threads_and_tickets_keep_the_keys_they_were_stored_under(
    redis: Redis, redis_prefix: str
) -> None:
    # These strings are in Redis already: a key of another shape would lose every thread.
    slack = ThreadKey.for_slack("T1", "C1", "1700000000.000100")
    ticket = ThreadKey.for_ticket("zendesk", "501")
    assert (slack.as_key(), ticket.as_key()) == ("T1:C1:1700000000.000100", "zendesk:ticket:501")
    entry = HistoryEntry(Speaker.USER, "what is this?")
    await RedisHistoryStore(redis, prefix=redis_prefix).append(slack, entry)
    await RedisHistoryStore(redis, prefix=redis_prefix).append(ticket, entry)
    await RedisFeedbackStore(redis, prefix=redis_prefix).record(slack, "U1", Verdict.SOLVED)
    await RedisCaseStore(redis, prefix=redis_prefix).save(ThreadCase(ticket, updated_at=1.0))
    written = sorted([key.decode() async for key in redis.scan_iter(f"{redis_prefix}:*")])
    assert [key.removeprefix(redis_prefix) for key in written] == [
        ":case:zendesk:ticket:501",
        ":feedback:T1:C1:1700000000.000100",
        ":history:T1:C1:1700000000.000100",
        ":history:zendesk:ticket:501",
    ]


async def test_a_case_stored_before_the_key_fitted_tickets_reads_back(
    redis: Redis, redis_prefix: str
) -> None:
    stored = (
        '{"thread": {"workspace": "T1", "channel": "C1", "thread_ts": "1.0"}, "status": "bot", '
        '"requested_by": null, "owner": null, "resolution": null, "desk_message_ts": null, '
        '"updated_at": 1.0}'
    )
    await redis.set(keys.CASE.key(redis_prefix, thread="T1:C1:1.0"), stored)
    cases = RedisCaseStore(redis, prefix=redis_prefix)
    case = await cases.get(ThreadKey.for_slack("T1", "C1", "1.0"))
    assert case == ThreadCase(ThreadKey.for_slack("T1", "C1", "1.0"), updated_at=1.0)
    await cases.save(case)  # and is written back byte for byte
    assert await redis.get(keys.CASE.key(redis_prefix, thread="T1:C1:1.0")) == stored.encode()
