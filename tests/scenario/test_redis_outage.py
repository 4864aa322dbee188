"""Redis dies mid-conversation: the bot keeps answering (without history) and recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from bot.engine.transformers_engine import TransformersEngine
from tests.support.fake_slack import BOT_USER_ID
from tests.support.redis_server import RedisServer
from tests.support.running_bot import RunningBot, run_bot
from tests.support.slack_events import message_event

pytestmark = pytest.mark.slow


@pytest.fixture
def killable_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def _mention(bot: RunningBot, channel: str, text: str) -> dict[str, object]:
    event = message_event(channel=channel, kind="app_mention", text=f"<@{BOT_USER_ID}> {text}")
    bot.post_event(event)
    return event


def test_the_bot_answers_through_a_redis_outage_and_recovers(
    tiny_engine: TransformersEngine, killable_redis: RedisServer
) -> None:
    with run_bot(tiny_engine, killable_redis.url) as bot:
        before = _mention(bot, "CR1", "first question")
        bot.wait_for_answer("CR1", str(before["ts"]))

        killable_redis.stop()
        started = time.monotonic()
        during = _mention(bot, "CR2", "asked while Redis is down")
        bot.post_event(during)  # a duplicate delivery during the outage
        [answer] = bot.wait_for_answer("CR2", str(during["ts"]))
        assert answer.strip() and time.monotonic() - started < 15
        time.sleep(1.0)
        assert len(bot.slack.thread_messages("CR2", str(during["ts"]))) == 1, "deduplicated locally"
        metrics = httpx.get(f"{bot.url}/metrics").text
        assert "supportbot_redis_errors_total" in metrics
        assert httpx.get(f"{bot.url}/healthz").status_code == 200

        killable_redis.start()
        after = _mention(bot, "CR3", "asked after Redis came back")
        bot.wait_for_answer("CR3", str(after["ts"]))
        client = redis.Redis.from_url(killable_redis.url)
        try:
            assert list(client.scan_iter(f"{bot.redis_prefix}:history:*CR3*")), (
                "history written again"
            )
        finally:
            client.close()


def test_a_follow_up_in_the_bots_thread_is_answered_while_redis_is_down(
    tiny_engine: TransformersEngine, killable_redis: RedisServer
) -> None:
    with run_bot(tiny_engine, killable_redis.url) as bot:
        first = _mention(bot, "CF1", "first question")
        thread_ts = str(first["ts"])
        bot.wait_for_answer("CF1", thread_ts)
        killable_redis.stop()
        # A reply in the thread without a mention: only the bot's own threads get one.
        follow_up = message_event(channel="CF1", text="still failing", thread_ts=thread_ts)
        bot.post_event(follow_up)
        answers = bot.wait_for_answer("CF1", thread_ts, count=2)
        assert len(answers) == 2 and answers[-1].strip()
        assert bot.slack.calls("conversations.replies"), "Slack's thread stood in for history"

        # A reply in somebody else's thread is still left alone.
        other = message_event(channel="CF1", text="people talking")
        bot.post_event(other)
        aside = message_event(channel="CF1", text="not for the bot", thread_ts=str(other["ts"]))
        bot.post_event(aside)
        time.sleep(1.0)
        assert bot.slack.thread_messages("CF1", str(other["ts"])) == []
