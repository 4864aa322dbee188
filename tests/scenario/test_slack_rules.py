"""The bot against a Slack that fails as documented: limits, refusals, Stop, Slack Connect, 5xx.

Each test drives the real ASGI app over HTTP, with a real Redis and the tiny model, against
the strict fake Slack (tests/support/fake_slack.py cites the doc page of each rule).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.conversation.escalation import ThreadCase
from bot.conversation.turns import ThreadKey
from bot.engine import Engine, GenerationRequest, Queued
from bot.engine.transformers_engine import TransformersEngine
from bot.messages import Message, say
from bot.stores.cases import RedisCaseStore
from bot.stores.rate_limit import RedisRateLimiter
from handlers.mrkdwn import markdown_to_mrkdwn
from handlers.slack.thread_reply import STREAM_STARTS
from tests.support.delegating_engine import DelegatingEngine
from tests.support.fake_slack import (
    BOT_USER_ID,
    STREAM_TEXT_LIMIT,
    TEAM_ID,
    FakeSlack,
    assistant_view_manifest,
)
from tests.support.paced_engine import PacedEngine
from tests.support.running_bot import BOT_TOKEN, SIGNING_SECRET, run_bot, stored_answers
from tests.support.screenshots import render_error_screenshot
from tests.support.slack_events import message_event, signed_headers

pytestmark = pytest.mark.slow

STREAM_METHODS = {"chat.startStream", "chat.appendStream", "chat.stopStream"}
# As long as the burst that once went to Slack in a single call.
LONG_TAIL = " ".join(f"step{i}" for i in range(5_000))[:29_899]


class LongTailEngine(DelegatingEngine):
    """The real answer, then a long tail in one piece: a model that writes faster than Slack.

    With `pause_before_tail`, the tail comes that many seconds after the answer (a model that
    thinks a while before writing on)."""

    def __init__(self, inner: Engine, *, pause_before_tail: float = 0.0) -> None:
        super().__init__(inner)
        self._pause = pause_before_tail

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        async for piece in self._inner.stream(request):
            yield piece
        await asyncio.sleep(self._pause)
        yield " " + LONG_TAIL


def _mention(channel: str, text: str, **kwargs: Any) -> dict[str, Any]:
    return message_event(
        channel=channel, kind="app_mention", text=f"<@{BOT_USER_ID}> {text}", **kwargs
    )


def _streaming_bot(engine: Engine, redis_url: str, **settings: Any):  # type: ignore[no-untyped-def]
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True)
    return run_bot(engine, redis_url, slack=slack, update_interval=0.05, **settings)


def test_a_long_fast_answer_streams_in_calls_slack_accepts_and_loses_nothing(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with _streaming_bot(LongTailEngine(tiny_engine), redis_url) as bot:
        event = _mention("CLONG", "explain everything")
        bot.post_event(event)
        slack = bot.slack
        slack.wait_for(lambda: len(slack.calls("chat.stopStream")) >= 3)
        streamed = "".join(
            slack.streamed_text("CLONG", ts) for ts in slack.stream_messages("CLONG", event["ts"])
        )
        calls = [c for c in slack.calls() if c.method in STREAM_METHODS]
        assert not slack.errors(), [c.error for c in slack.errors()]
        assert max(len(c.args.get("markdown_text") or "") for c in calls) <= STREAM_TEXT_LIMIT
        assert streamed == stored_answers(bot, redis_url)[-1], "nothing lost or repeated"
        assert LONG_TAIL in streamed


def test_stop_pressed_mid_answer_ends_it_quietly(
    words_engine: TransformersEngine, redis_url: str
) -> None:
    paced = PacedEngine(words_engine, seconds_per_piece=0.05)
    with _streaming_bot(paced, redis_url, max_new_tokens=40) as bot:
        bot.slack.user_stops_next_stream(after_appends=2)
        event = _mention("CSTOPBTN", "what does this error mean?")
        bot.post_event(event)
        slack = bot.slack
        slack.wait_for(lambda: slack.statuses("CSTOPBTN", str(event["ts"]))[-1:] == [""])
        assert [c.error for c in slack.errors()] == ["stopped_by_user"]
        assert slack.thread_messages("CSTOPBTN", str(event["ts"])) == [], "no warning posted"
        assert not slack.calls("chat.update"), "nothing edits the stopped message"
        metrics = httpx.get(f"{bot.url}/metrics").text
        assert 'supportbot_answers_total{outcome="stopped_by_user"} 1.0' in metrics
        assert 'outcome="internal_error"' not in metrics


def test_an_answer_that_outlives_slacks_stream_window_goes_on_by_editing_and_loses_nothing(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    paced = PacedEngine(tiny_engine, seconds_per_piece=0.05)
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, stream_window=0.5)
    with run_bot(paced, redis_url, slack=slack, update_interval=0.05, max_new_tokens=40) as bot:
        event = _mention("CEXPIRE", "what does this error mean?")
        bot.post_event(event)
        thread_ts = str(event["ts"])
        slack.wait_for(lambda: slack.statuses("CEXPIRE", thread_ts)[-1:] == [""])
        [stream_ts] = slack.stream_messages("CEXPIRE", thread_ts)
        assert slack.expired_streams == [stream_ts], "Slack closed the stream mid-answer"
        assert ("chat.appendStream", "message_not_in_streaming_state") in [
            (c.method, c.error) for c in slack.errors()
        ]
        [answer] = stored_answers(bot, redis_url)
        # The same message carries the whole answer, edited in after the stream closed, with
        # the feedback buttons; nothing is posted in its place, nothing says it broke off.
        assert slack.final_text("CEXPIRE", stream_ts) == markdown_to_mrkdwn(answer)
        [last_edit] = [c for c in slack.calls("chat.update") if c.args["ts"] == stream_ts][-1:]
        assert "feedback:solved" in json.dumps(last_edit.args)
        assert slack.thread_messages("CEXPIRE", thread_ts) == []
        metrics = httpx.get(f"{bot.url}/metrics").text
        assert 'supportbot_answers_total{outcome="answered"} 1.0' in metrics
        assert "stopped_by_user" not in metrics


def test_a_long_answer_after_the_stream_closed_goes_on_in_further_messages(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, stream_window=0.5)
    engine = LongTailEngine(tiny_engine, pause_before_tail=1.0)
    with run_bot(engine, redis_url, slack=slack, update_interval=0.05) as bot:
        event = _mention("CEXPLONG", "explain everything")
        bot.post_event(event)
        thread_ts = str(event["ts"])
        slack.wait_for(lambda: slack.statuses("CEXPLONG", thread_ts)[-1:] == [""], timeout=60)
        [stream_ts] = slack.stream_messages("CEXPLONG", thread_ts)
        assert slack.expired_streams == [stream_ts]
        shown = [slack.final_text("CEXPLONG", stream_ts), *bot.answers_in("CEXPLONG", thread_ts)]
        assert len(shown) > 2, "past the length limit, further messages"
        words = " ".join(shown).split()
        tail = LONG_TAIL.split()
        assert words[-len(tail) + 1 :] == tail[1:], "every word of the tail is shown, in order"


def test_a_channel_that_refuses_streams_gets_edited_answers_and_others_still_stream(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with _streaming_bot(tiny_engine, redis_url) as bot:
        bot.slack.refuse_next("chat.startStream", "restricted_action_read_only_channel")
        refused = _mention("CREADONLY", "why does it fail?")
        bot.post_event(refused)
        [answer] = bot.wait_for_answer("CREADONLY", str(refused["ts"]))
        assert answer and not answer.startswith(":warning:")
        streamed = _mention("COPEN", "and here?")
        bot.post_event(streamed)
        bot.slack.wait_for(lambda: bot.slack.calls("chat.stopStream"))
        assert bot.slack.stream_messages("COPEN", str(streamed["ts"]))


def test_a_direct_message_is_answered_by_a_stream_in_its_thread(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with _streaming_bot(tiny_engine, redis_url) as bot:
        event = message_event(channel="DALICE01", channel_type="im", text="my build fails")
        bot.post_event(event)
        bot.slack.wait_for(lambda: bot.slack.calls("chat.stopStream"))
        [start] = bot.slack.calls("chat.startStream")
        assert start.args["channel"] == "DALICE01" and not bot.slack.errors()


def test_a_screenshot_shared_over_slack_connect_is_read_through_files_info(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(tiny_engine, redis_url) as bot:
        stub = bot.slack.add_connect_file("FCONNECT01", "partner.png", render_error_screenshot())
        event = _mention("CSHARED", "what is this error?", files=[stub])
        bot.post_event(event)
        [answer] = bot.wait_for_answer("CSHARED", str(event["ts"]))
        assert [c.args["file"] for c in bot.slack.calls("files.info")] == ["FCONNECT01"]
        assert len(bot.engine.requests[-1].images) == 1
        assert "partner.png" not in answer, "read, not reported as not shared"


def test_a_reply_whose_post_landed_before_a_5xx_is_posted_once(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(tiny_engine, redis_url) as bot:
        bot.slack.fail_next("chat.postMessage", status=503, landed=True)
        event = _mention("C5XX", "what is wrong?")
        bot.post_event(event)
        # The landed post is in the thread before the bot has read it: wait for the read,
        # then long enough for a second post to show if the bot made one.
        bot.slack.wait_for(lambda: bot.slack.calls("conversations.replies"))
        [answer] = bot.wait_for_answer("C5XX", str(event["ts"]))
        time.sleep(1.5)
        assert answer and len(bot.slack.thread_messages("C5XX", str(event["ts"]))) == 1


def test_a_hanging_redis_cannot_hold_back_the_ack(
    tiny_engine: TransformersEngine, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), run_bot(tiny_engine, redis_url) as bot:
        redis = Redis.from_url(redis_url)
        try:
            redis.client_pause(4_000, all=True)  # every command waits 4 s: Redis hangs
            event = _mention("CHANG", "are you there?")
            response = bot.post_event(event)
        finally:
            redis.close()
        assert response.status_code == 200
        assert any("acknowledged unrecorded" in r.getMessage() for r in caplog.records)
        [answer] = bot.wait_for_answer("CHANG", str(event["ts"]))
        assert answer


def _thread_started(user: str, channel: str, thread_ts: str) -> dict[str, object]:
    """assistant_thread_started, as https://docs.slack.dev/reference/events/assistant_thread_started
    shows it."""
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {"channel_id": "CGENERAL", "team_id": "T0TEST001"},
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": thread_ts,
    }


def test_a_thread_title_never_holds_a_secret_the_question_carried(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN)
    token = "xoxb-" + "1234567890-" * 2 + "abcdefABCDEF1234"
    with run_bot(tiny_engine, redis_url, slack=slack) as bot:
        thread_ts = "1700000200.000100"
        question = message_event(
            channel="DTITLE01",
            channel_type="im",
            thread_ts=thread_ts,
            text=f"{token} is rejected with invalid_auth",
        )
        bot.post_event(question)
        bot.wait_for_answer("DTITLE01", thread_ts)
        [title] = slack.wait_for(lambda: slack.calls("assistant.threads.setTitle"))
        assert "invalid_auth" in title.args["title"]
        assert "xoxb-" not in title.args["title"] and "abcdefABCDEF" not in title.args["title"]


def _home_opened(user: str, channel: str, tab: str) -> dict[str, object]:
    """app_home_opened, as https://docs.slack.dev/reference/events/app_home_opened shows it."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": "1700000300.000001",
    }


def test_the_agent_experience_greets_in_the_messages_tab_and_answers_in_threads(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True)
    assert slack.experience == "agent", "the manifest declares agent_view"
    with run_bot(tiny_engine, redis_url, slack=slack) as bot:
        assert bot.post_event(_home_opened("UAGENTX1", "DAGENTX1", "home")).status_code == 200
        assert bot.post_event(_home_opened("UAGENTX1", "DAGENTX1", "messages")).status_code == 200
        slack.wait_for(lambda: slack.shown_prompts.get("DAGENTX1"))
        assert not slack.ignored_prompts, "prompts set the agent way: no thread_ts"
        [greeting] = [c for c in slack.calls("chat.postMessage") if c.args["channel"] == "DAGENTX1"]
        assert greeting.args["text"] == say(Message.ASSISTANT_GREETING)
        assert "thread_ts" not in greeting.args
        assert [p["message"] for p in slack.shown_prompts["DAGENTX1"]][-1] == say(
            Message.PROMPT_HUMAN
        )
        bot.post_event(_home_opened("UAGENTX1", "DAGENTX1", "messages"))  # opened again
        # A question in the Messages tab: no assistant_app_thread root, its own thread.
        question = message_event(
            channel="DAGENTX1",
            channel_type="im",
            user="UAGENTX1",
            text="docker build fails with no space left on device",
        )
        bot.post_event(question)
        thread_ts = str(question["ts"])
        slack.wait_for(lambda: slack.calls("chat.stopStream"))
        assert slack.stream_messages("DAGENTX1", thread_ts), "streamed in the question's thread"
        assert slack.statuses("DAGENTX1", thread_ts)[0], "the status line shows while it works"
        [title] = slack.wait_for(lambda: slack.calls("assistant.threads.setTitle"))
        assert title.args["thread_ts"] == thread_ts
        assert title.args["title"] == "docker build fails with no space left on device"
        greetings = [c for c in slack.calls("chat.postMessage") if c.args["channel"] == "DAGENTX1"]
        assert len(greetings) == 1, "greeted once, not on every opening"


def test_two_replicas_sharing_redis_greet_a_person_once_also_after_a_restart(
    tiny_engine: TransformersEngine, redis_url: str, redis_prefix: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True)

    def greetings(channel: str) -> list[Any]:
        return [c for c in slack.calls("chat.postMessage") if c.args["channel"] == channel]

    # One Redis, one keyspace: two replicas of one deployment.
    with (
        run_bot(tiny_engine, redis_url, slack=slack, redis_key_prefix=redis_prefix) as first,
        run_bot(tiny_engine, redis_url, slack=slack, redis_key_prefix=redis_prefix) as second,
    ):
        first.post_event(_home_opened("UREPLIC1", "DREPLIC1", "messages"))
        slack.wait_for(lambda: greetings("DREPLIC1"))
        # Slack sends the next openings to whichever replica: neither greets again.
        second.post_event(_home_opened("UREPLIC1", "DREPLIC1", "messages"))
        first.post_event(_home_opened("UREPLIC1", "DREPLIC1", "messages"))
        second.post_event(_home_opened("UREPLIC2", "DREPLIC2", "messages"))
        slack.wait_for(lambda: greetings("DREPLIC2"))  # a new person is greeted
    with run_bot(tiny_engine, redis_url, slack=slack, redis_key_prefix=redis_prefix) as restarted:
        restarted.post_event(_home_opened("UREPLIC1", "DREPLIC1", "messages"))
        restarted.post_event(_home_opened("UREPLIC3", "DREPLIC3", "messages"))
        slack.wait_for(lambda: greetings("DREPLIC3"))
    assert len(greetings("DREPLIC1")) == 1, "greeted once by all replicas and restarts"
    assert len(greetings("DREPLIC2")) == 1


def test_the_assistant_container_greets_suggests_prompts_titles_and_answers(
    tiny_engine: TransformersEngine, redis_url: str, tmp_path: Path
) -> None:
    # A workspace whose app was created with assistant_view keeps working.
    slack = FakeSlack(
        bot_token=BOT_TOKEN,
        locales={"UWANG001": "zh-CN"},
        manifest=assistant_view_manifest(tmp_path),
    )
    assert slack.experience == "assistant"
    with run_bot(tiny_engine, redis_url, slack=slack) as bot:
        thread_ts = "1700000100.000100"
        response = bot.post_event(_thread_started("UWANG001", "DWANG001", thread_ts))
        assert response.status_code == 200
        [greeting] = slack.wait_for(lambda: slack.thread_messages("DWANG001", thread_ts))
        assert greeting.args["text"].startswith("你好")
        [prompts] = slack.wait_for(lambda: slack.calls("assistant.threads.setSuggestedPrompts"))
        assert [p["message"] for p in prompts.args["prompts"]][-1] == "转人工"
        changed = {
            "type": "assistant_thread_context_changed",
            "assistant_thread": {
                "user_id": "UWANG001",
                "context": {"channel_id": "CBUILDS", "team_id": "T0TEST001"},
                "channel_id": "DWANG001",
                "thread_ts": thread_ts,
            },
            "event_ts": thread_ts,
        }
        assert bot.post_event(changed).status_code == 200
        question = message_event(
            channel="DWANG001",
            channel_type="im",
            user="UWANG001",
            thread_ts=thread_ts,
            text="npm install fails with EACCES\nfull log below",
        )
        bot.post_event(question)
        answers = bot.wait_for_answer("DWANG001", thread_ts, count=2)
        assert answers[1].strip()
        [title] = slack.calls("assistant.threads.setTitle")
        assert title.args["title"] == "npm install fails with EACCES"
        assert slack.statuses("DWANG001", thread_ts)[0] == "正在分析…"
        # Only the stream start of this workspace without streaming was refused.
        assert [(c.method, c.error) for c in slack.errors()] == [
            ("chat.startStream", "unknown_method")
        ]


def test_a_busy_minute_stays_within_the_stream_tier_and_every_question_is_answered(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    """chat.startStream and chat.stopStream are Tier 2 (20 a minute): past the budget the
    bot edits answers in place instead of meeting 429s."""
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, rate_tiers=True)
    with run_bot(
        tiny_engine, redis_url, slack=slack, rate_limit_per_user=0, rate_limit_per_channel=0
    ) as bot:
        events = [_mention("CBUSY", f"question {n}", user=f"UUSER{n:04d}") for n in range(24)]
        for event in events:
            bot.post_event(event)

        def answered() -> bool:
            streamed = {c.args["thread_ts"] for c in slack.calls("chat.startStream") if not c.error}
            stopped = len([c for c in slack.calls("chat.stopStream") if not c.error])
            edited = {
                str(e["ts"])
                for e in events
                if any(
                    not t.startswith("_") and not t.endswith(" …")
                    for t in bot.answers_in("CBUSY", str(e["ts"]))
                )
            }
            return stopped == len(streamed) and len(streamed | edited) == len(events)

        slack.wait_for(answered, timeout=120)
        starts = [c for c in slack.calls() if c.method.startswith("chat.startStream")]
        assert len(starts) == 18, "the minute's budget, then edits"
        assert not [c for c in slack.calls() if c.method.endswith("!429")], "no 429 met"


def test_the_stream_tier_is_the_workspaces_budget_shared_by_every_replica(
    tiny_engine: TransformersEngine, redis_url: str, redis_prefix: str
) -> None:
    """Slack counts chat.startStream per app and workspace, not per process: the starts
    another replica made this minute (counted in the shared Redis) leave this one less."""
    others = STREAM_STARTS.limit - 1

    async def started_elsewhere() -> None:
        redis = AsyncRedis.from_url(redis_url)
        try:
            limiter = RedisRateLimiter(redis, prefix=redis_prefix)
            for _ in range(others):
                assert (await STREAM_STARTS.hit(limiter, TEAM_ID)).allowed
        finally:
            await redis.aclose()

    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, rate_tiers=True)
    with run_bot(tiny_engine, redis_url, slack=slack, redis_key_prefix=redis_prefix) as bot:
        asyncio.run(started_elsewhere())
        first = _mention("CTIER", "question one", user="UTIER001")
        bot.post_event(first)
        slack.wait_for(lambda: slack.calls("chat.stopStream"))
        second = _mention("CTIER", "question two", user="UTIER002")
        bot.post_event(second)
        [edited] = bot.wait_for_answer("CTIER", str(second["ts"]))
        assert edited.strip(), "past the budget the answer is edited in place"
        assert slack.stream_messages("CTIER", str(first["ts"])), "the last start of the minute"
        assert not slack.stream_messages("CTIER", str(second["ts"]))
        assert not [c for c in slack.calls() if c.method.endswith("!429")], "no 429 met"


async def _save_case(redis_url: str, prefix: str, case: ThreadCase) -> None:
    redis = AsyncRedis.from_url(redis_url)
    try:
        await RedisCaseStore(redis, prefix=prefix).save(case)
    finally:
        await redis.aclose()


def test_an_expired_trigger_tells_the_agent_to_press_again(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(tiny_engine, redis_url, escalation_channel="CDESK") as bot:
        # Only an escalated thread can be resolved: this one was escalated earlier.
        escalated = ThreadCase(ThreadKey.for_slack("T0TEST001", "CESC", "1.000000")).escalated(
            "UALICE01"
        )
        asyncio.run(_save_case(redis_url, bot.redis_prefix, escalated))
        payload = {
            "type": "block_actions",
            "team": {"id": "T0TEST001"},
            "user": {"id": "UAGENT01"},
            "api_app_id": "A0TEST001",
            "token": "legacy",
            "trigger_id": bot.slack.trigger_id(issued_seconds_ago=5),  # a slow round trip
            "container": {"type": "message", "channel_id": "CDESK", "message_ts": "1.000001"},
            "channel": {"id": "CDESK"},
            "message": {"ts": "1.000001", "text": "escalated"},
            "actions": [
                {
                    "type": "button",
                    "action_id": "escalation:resolve",
                    "value": json.dumps(["T0TEST001", "CESC", "1.000000"]),
                    "block_id": "escalation",
                    "action_ts": "1.000002",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = signed_headers(SIGNING_SECRET, body) | {
            "Content-Type": "application/x-www-form-urlencoded"
        }
        assert httpx.post(f"{bot.url}/slack/events", content=body, headers=headers).is_success
        [note] = bot.slack.wait_for(lambda: bot.slack.calls("chat.postEphemeral"))
        assert note.args["user"] == "UAGENT01" and "press the button again" in note.args["text"]
        assert [c.error for c in bot.slack.errors()] == ["expired_trigger_id"]
