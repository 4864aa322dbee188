"""What Redis keeps of a Slack question is redacted, while answering and after; a secret in a
file name is neither kept nor echoed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from bot.engine.transformers_engine import TransformersEngine
from tests.support.fake_slack import BOT_USER_ID
from tests.support.paced_engine import PacedEngine
from tests.support.running_bot import RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.slack_events import file_object, message_event

pytestmark = pytest.mark.slow

SECRET = "AKIAIOSFODNN7EXAMPLE"
MAIL = "ops.lead@acme.example"
FILE_NAME = f"key-{SECRET}-{MAIL}.png"


@pytest.fixture(scope="module")
def slow_bot(tiny_engine: TransformersEngine, redis_url: str) -> Iterator[RunningBot]:
    with run_bot(PacedEngine(tiny_engine, seconds_per_piece=0.1), redis_url) as bot:
        yield bot


async def _everything_stored(redis_url: str, prefix: str) -> bytes:
    redis = Redis.from_url(redis_url)
    try:
        kept = []
        async for key in redis.scan_iter(f"{prefix}:*"):
            kind = (await redis.type(key)).decode()
            if kind == "string":
                kept.append(await redis.get(key) or b"")
            elif kind == "list":
                kept.extend(await redis.lrange(key, 0, -1))
            elif kind == "hash":
                kept.extend(await redis.hvals(key))
            elif kind == "zset":
                kept.extend(await redis.zrange(key, 0, -1))
        return b"\n".join(kept)
    finally:
        await redis.aclose()


def test_a_question_is_kept_redacted_while_answered_and_after(
    slow_bot: RunningBot, redis_url: str
) -> None:
    slow_bot.slack.add_file(FILE_NAME, render_error_screenshot())
    event = message_event(
        channel="CREST",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> deploy fails, my key is {SECRET}, mail {MAIL}",
        files=[file_object(FILE_NAME, slow_bot.slack_url)],
    )
    slow_bot.post_event(event, event_id="EvREST001")

    def unanswered_recorded() -> bytes | None:
        kept = asyncio.run(_everything_stored(redis_url, slow_bot.redis_prefix))
        return kept if b"EvREST001" in kept or b"CREST" in kept else None

    # While the answer is being written, the delivery is in the work log: redacted.
    during = slow_bot.slack.wait_for(unanswered_recorded)
    assert b"deploy fails" in during
    assert SECRET.encode() not in during and MAIL.encode() not in during

    [answer] = slow_bot.wait_for_answer("CREST", event["ts"])
    after = asyncio.run(_everything_stored(redis_url, slow_bot.redis_prefix))
    assert SECRET.encode() not in after and MAIL.encode() not in after
    shown = json.dumps([c.args for c in slow_bot.slack.calls()])
    assert SECRET not in shown and MAIL not in shown, "Slack never saw them either"
    assert slow_bot.engine.requests, "the question was answered"
    assert "[redacted" in json.dumps(slow_bot.engine.requests[-1].messages[-1].parts[-1].text)
    assert answer
