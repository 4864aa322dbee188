from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.conversation.history import HistoryStore
from bot.conversation.turns import HistoryEntry, Screenshot, Speaker, ThreadKey
from bot.stores.history import InMemoryHistoryStore, RedisHistoryStore
from tests.support.screenshots import render_error_screenshot

THREAD = ThreadKey.for_slack("T1", "C1", "1700000000.000100")


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, redis_prefix: str) -> HistoryStore:
    if request.param == "memory":
        return InMemoryHistoryStore(max_turns=4)
    # The shared `redis` fixture deletes this test's keys afterwards.
    redis: Redis = request.getfixturevalue("redis")
    return RedisHistoryStore(redis, prefix=redis_prefix, max_turns=4, ttl_seconds=120)


def _shot() -> Screenshot:
    return Screenshot("err.png", "image/png", render_error_screenshot(), 640, 400)


async def test_turns_come_back_in_order_with_their_screenshots(store: HistoryStore) -> None:
    assert not await store.has_thread(THREAD)
    await store.append(THREAD, HistoryEntry(Speaker.USER, "what is this?", (_shot(),)))
    await store.append(THREAD, HistoryEntry(Speaker.ASSISTANT, "A missing module."))
    entries = await store.load(THREAD)
    assert [(e.speaker, e.text) for e in entries] == [
        (Speaker.USER, "what is this?"),
        (Speaker.ASSISTANT, "A missing module."),
    ]
    assert entries[0].screenshots == (_shot(),)
    assert await store.has_thread(THREAD)
    assert await store.load(ThreadKey.for_slack("T1", "C1", "other")) == []


async def test_history_is_capped_to_the_newest_turns(store: HistoryStore) -> None:
    for number in range(6):
        await store.append(THREAD, HistoryEntry(Speaker.USER, f"turn {number}"))
    assert [e.text for e in await store.load(THREAD)] == ["turn 2", "turn 3", "turn 4", "turn 5"]


async def test_redis_history_expires_and_stores_each_image_once(
    redis_url: str, redis_prefix: str
) -> None:
    redis = Redis.from_url(redis_url)
    store = RedisHistoryStore(redis, prefix=redis_prefix, ttl_seconds=100)
    await store.append(THREAD, HistoryEntry(Speaker.USER, "one", (_shot(),)))
    await store.append(THREAD, HistoryEntry(Speaker.USER, "two", (_shot(),)))
    images = [key async for key in redis.scan_iter(f"{redis_prefix}:image:*")]
    assert len(images) == 1
    assert 0 < await redis.ttl(f"{redis_prefix}:history:{THREAD.as_key()}") <= 100
    await redis.delete(*images, f"{redis_prefix}:history:{THREAD.as_key()}")
    await redis.aclose()


async def test_the_attachment_listing_and_text_files_come_back_in_order(
    store: HistoryStore,
) -> None:
    from bot.conversation.turns import AttachmentKind, AttachmentNote

    listing = (
        AttachmentNote("err.png", AttachmentKind.IMAGE),
        AttachmentNote("app.log", AttachmentKind.TEXT, "kept lines 1-3 of 9", "ERROR 错误 boom"),
        AttachmentNote("x.zip", AttachmentKind.UNREAD, "it is not a text file."),
    )
    await store.append(THREAD, HistoryEntry(Speaker.USER, "why?", (_shot(),), listing))
    [entry] = await store.load(THREAD)
    assert entry.attachments == listing
