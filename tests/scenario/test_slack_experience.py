"""The Slack experience over HTTP against the fake Slack: streaming, limits, feedback, modes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from redis import Redis

from bot.engine.transformers_engine import TransformersEngine
from handlers.mrkdwn import markdown_to_mrkdwn
from tests.support.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.paced_engine import PacedEngine
from tests.support.running_bot import BOT_TOKEN, SIGNING_SECRET, RunningBot, run_bot, stored_answers
from tests.support.screenshots import render_error_screenshot
from tests.support.slack_events import (
    envelope,
    file_object,
    mention_event,
    message_event,
    next_ts,
    signed_headers,
)
from tests.support.slow_model import slowed

pytestmark = pytest.mark.slow

QUIET_PERIOD = 1.5


def _mention(
    bot: RunningBot, channel: str, text: str, files: Sequence[str] = (), *, user: str = "UALICE01"
) -> dict[str, Any]:
    return mention_event(
        channel=channel, text=text, files_url=bot.slack_url, files=files, user=user
    )


def test_streamed_answer_grows_and_ends_complete_with_feedback_buttons(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True)
    paced = PacedEngine(tiny_engine, seconds_per_piece=0.02)
    with run_bot(paced, redis_url, slack=slack, update_interval=0.05, max_new_tokens=40) as bot:
        event = _mention(bot, "CSTREAM", "why does npm fail with EACCES?")
        bot.post_event(event)
        stop = slack.wait_for(lambda: slack.calls("chat.stopStream"))[0]
        start = slack.calls("chat.startStream")[0]
        appends = slack.calls("chat.appendStream")
        assert start.args["thread_ts"] == event["ts"]
        assert start.args["recipient_user_id"] == "UALICE01"
        assert start.args["recipient_team_id"] == TEAM_ID
        assert appends, "the answer grew in several appends"
        streamed = slack.streamed_text("CSTREAM", start.args["_ts"])
        assert streamed == stored_answers(bot, redis_url)[-1], "nothing lost or repeated"
        [actions] = (
            json.loads(stop.args["blocks"])
            if isinstance(stop.args["blocks"], str)
            else stop.args["blocks"]
        )
        assert [e["action_id"] for e in actions["elements"]] == [
            "feedback:solved",
            "feedback:not_helpful",
        ]
        assert slack.statuses("CSTREAM", event["ts"])[0] == "Looking into it…"
        assert slack.thread_messages("CSTREAM", event["ts"]) == [], "no placeholder: a status"


def test_without_streaming_the_placeholder_is_edited_as_the_answer_grows(
    words_engine: TransformersEngine, redis_url: str
) -> None:
    paced = PacedEngine(words_engine, seconds_per_piece=0.05)
    with run_bot(paced, redis_url, update_interval=0.1, max_new_tokens=40) as bot:
        event = _mention(bot, "CEDIT", "what does this mean?")
        bot.post_event(event)
        [answer] = bot.wait_for_answer("CEDIT", event["ts"])
        updates = [c.args["text"] for c in bot.slack.calls("chat.update")]
        assert len(updates) >= 3, "the answer grew in place"
        final = updates[-1]
        for preview in updates[:-1]:
            if not preview.startswith("_"):
                assert final.startswith(preview.removesuffix(" …").rstrip("`\n ")[:20])
        assert answer == final
        blocks = bot.slack.calls("chat.update")[-1].args["blocks"]
        assert "feedback:solved" in str(blocks)
        # The workspace cannot stream: the bot asked once, was refused, and edited instead.
        assert len(bot.slack.calls("chat.startStream")) == 1


def test_a_429_on_chat_update_is_waited_out_and_nothing_is_lost(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    paced = PacedEngine(tiny_engine, seconds_per_piece=0.05)  # previews, then edits
    with run_bot(paced, redis_url, update_interval=0.1) as bot:
        bot.slack.fail_next("chat.update", status=429, retry_after=1, times=1)
        event = _mention(bot, "C429", "what is wrong?")
        bot.post_event(event)
        [answer] = bot.wait_for_answer("C429", event["ts"])
        methods = [c.method for c in bot.slack.calls() if c.method.startswith("chat.update")]
        assert methods[0] == "chat.update!429" and "chat.update" in methods[1:]
        metrics = httpx.get(f"{bot.url}/metrics").text
        assert 'supportbot_slack_api_errors_total{status="429"} 1.0' in metrics
        assert "supportbot_slack_ack_seconds_count" in metrics
        assert "supportbot_engine_queue_depth 0.0" in metrics
        assert answer == markdown_to_mrkdwn(stored_answers(bot, redis_url)[-1]), "nothing lost"


def test_three_screenshots_reach_the_model_and_an_oversized_one_is_named(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(tiny_engine, redis_url, max_image_bytes=50_000) as bot:
        for name in ("a.png", "b.png", "c.png"):
            bot.slack.add_file(name, render_error_screenshot())
        files = [file_object(n, bot.slack_url) for n in ("a.png", "b.png", "c.png")]
        files.append(file_object("huge.png", bot.slack_url, size=80_000_000))
        event = message_event(
            channel="CMULTI", kind="app_mention", text=f"<@{BOT_USER_ID}> all failing", files=files
        )
        bot.post_event(event)
        [answer] = bot.wait_for_answer("CMULTI", event["ts"])
        assert len(bot.engine.requests[-1].images) == 3
        assert "huge.png" in answer and "larger than" in answer


def test_channel_modes_mention_and_support(
    tiny_engine: TransformersEngine, redis_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "channels.toml"
    config.write_text(
        '[defaults]\nmode = "mention"\n\n[channels.CSUPPORT]\nmode = "support"\n'
        '\n[channels.COFF]\nmode = "off"\n'
    )
    with run_bot(tiny_engine, redis_url, channel_config=config) as bot:
        unmentioned = message_event(channel="CMENTION", text="my build is broken")
        support = message_event(channel="CSUPPORT", text="my build is broken")
        off = _mention(bot, "COFF", "my build is broken")
        for event in (unmentioned, support, off):
            bot.post_event(event)
        bot.wait_for_answer("CSUPPORT", support["ts"])
        time.sleep(QUIET_PERIOD)
        assert bot.slack.thread_messages("CMENTION", unmentioned["ts"]) == []
        assert bot.slack.thread_messages("COFF", off["ts"]) == []


def test_rate_limit_gives_a_friendly_message(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(tiny_engine, redis_url, rate_limit_per_user=2) as bot:
        events = [_mention(bot, "CRATE", f"question {i}") for i in range(3)]
        for event in events[:2]:
            bot.post_event(event)
            bot.wait_for_answer("CRATE", event["ts"])
        bot.post_event(events[2])
        [refusal] = bot.wait_for_answer("CRATE", events[2]["ts"])
        assert "faster than I can keep up" in refusal and "try again in" in refusal
        assert len(bot.engine.requests) == 2


def test_feedback_click_is_stored_counted_and_acknowledged(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(tiny_engine, redis_url) as bot:
        event = _mention(bot, "CFEED", "what is this?")
        bot.post_event(event)
        bot.wait_for_answer("CFEED", event["ts"])
        answer_ts = bot.slack.thread_messages("CFEED", event["ts"])[0].args["_ts"]
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": "UALICE01"},
            "api_app_id": "A0TEST001",
            "token": "legacy",
            "container": {"type": "message", "channel_id": "CFEED", "message_ts": answer_ts},
            "channel": {"id": "CFEED"},
            "message": {"ts": answer_ts, "thread_ts": event["ts"], "text": "answer"},
            "actions": [
                {
                    "type": "button",
                    "action_id": "feedback:solved",
                    "block_id": "feedback",
                    "value": event["ts"],
                    "action_ts": str(time.time()),
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = signed_headers(SIGNING_SECRET, body) | {
            "Content-Type": "application/x-www-form-urlencoded"
        }
        response = httpx.post(f"{bot.url}/slack/events", content=body, headers=headers)
        assert response.status_code == 200
        thanks = bot.slack.wait_for(
            lambda: [
                c
                for c in bot.slack.thread_messages("CFEED", event["ts"])
                if "Thanks" in c.args["text"]
            ]
        )
        assert "<@UALICE01>" in thanks[0].args["text"]
        client = Redis.from_url(redis_url)
        try:
            stored = client.hgetall(f"{bot.redis_prefix}:feedback:{TEAM_ID}:CFEED:{event['ts']}")
        finally:
            client.close()
        assert stored == {b"UALICE01": b"solved"}
        metrics = httpx.get(f"{bot.url}/metrics").text
        assert 'supportbot_feedback_total{verdict="solved"} 1.0' in metrics


@pytest.fixture
def busy_engine(tiny_checkpoint: Path) -> Iterator[TransformersEngine]:
    """One answer at a time on a model slowed to a busy GPU's pace: a second question waits."""
    engine = TransformersEngine(str(tiny_checkpoint), device="cpu", max_batch=1)
    asyncio.run(engine.start())
    with slowed(engine._model, 0.05):
        yield engine
    asyncio.run(engine.close())


def test_second_request_shows_its_place_in_line(
    busy_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(busy_engine, redis_url, max_new_tokens=20) as bot:
        first = _mention(bot, "CLINE", "first question")
        second = _mention(bot, "CLINE", "second question", user="UBOB0001")
        bot.post_event(first)
        bot.slack.wait_for(lambda: bot.slack.statuses("CLINE", first["ts"]))  # it started
        bot.post_event(second)
        bot.wait_for_answer("CLINE", second["ts"])
        assert "Looking into it… (2nd in line)" in bot.slack.statuses("CLINE", second["ts"])


def test_deleting_the_question_stops_its_answer(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    paced = PacedEngine(tiny_engine, seconds_per_piece=0.3)
    with run_bot(paced, redis_url, max_new_tokens=40) as bot:
        event = _mention(bot, "CDEL", "what is this?")
        bot.post_event(event)
        bot.slack.wait_for(lambda: bot.slack.thread_messages("CDEL", event["ts"]))
        deleted = {
            "type": "message",
            "subtype": "message_deleted",
            "channel": "CDEL",
            "ts": next_ts(),
            "deleted_ts": event["ts"],
            "hidden": True,
            "previous_message": {"type": "message", "user": "UALICE01", "ts": event["ts"]},
        }
        bot.post_event(deleted)
        [answer] = bot.wait_for_answer("CDEL", event["ts"])
        assert "question was deleted" in answer


def test_an_edited_question_is_not_answered_twice(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(tiny_engine, redis_url) as bot:
        event = message_event(channel="DEDIT", channel_type="im", text="it fails")
        bot.post_event(event)
        bot.wait_for_answer("DEDIT", event["ts"])
        edited = {
            "type": "message",
            "subtype": "message_changed",
            "channel": "DEDIT",
            "channel_type": "im",
            "ts": next_ts(),
            "hidden": True,
            "message": {
                "type": "message",
                "user": "UALICE01",
                "text": "it fails badly",
                "ts": event["ts"],
                "edited": {"user": "UALICE01", "ts": next_ts()},
            },
        }
        bot.post_event(edited)
        time.sleep(QUIET_PERIOD)
        assert len(bot.slack.thread_messages("DEDIT", event["ts"])) == 1


def test_answer_language_follows_channel_config_then_user_locale(
    tiny_engine: TransformersEngine, redis_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "channels.toml"
    config.write_text('[channels.CZH]\nlanguage = "zh"\n')
    slack = FakeSlack(bot_token=BOT_TOKEN, locales={"UWANG001": "zh-CN"})
    with run_bot(tiny_engine, redis_url, slack=slack, channel_config=config) as bot:
        by_channel = _mention(bot, "CZH", "what does this mean?")
        by_locale = _mention(bot, "CEN", "what does this mean?", user="UWANG001")
        bot.post_event(by_channel)
        bot.post_event(by_locale)
        bot.wait_for_answer("CZH", by_channel["ts"])
        bot.wait_for_answer("CEN", by_locale["ts"])
        for event, channel in ((by_channel, "CZH"), (by_locale, "CEN")):
            assert bot.slack.statuses(channel, event["ts"])[0] == "正在分析…"
        # The model still answers in the language of the question itself.
        systems = [r.messages[0].text for r in bot.engine.requests]
        assert systems and all("Answer in English" in s for s in systems)


def test_socket_mode_envelope_and_its_retry_are_answered_once(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, app_token="xapp-1-A0TEST001-socket")
    with FakeSocketMode() as socket_mode:
        slack.socket_mode_url = socket_mode.url
        with run_bot(
            tiny_engine, redis_url, slack=slack, slack_app_token="xapp-1-A0TEST001-socket"
        ) as bot:
            socket_mode.wait_connected()
            event = _mention(bot, "CSOCK", "what does this mean?")
            payload = envelope(event)
            first = socket_mode.send_event(payload)
            bot.wait_for_answer("CSOCK", event["ts"])
            retry = socket_mode.send_event(payload, retry_attempt=1)
            slack.wait_for(lambda: socket_mode.acked(first) and socket_mode.acked(retry))
            time.sleep(QUIET_PERIOD)
            assert len(slack.thread_messages("CSOCK", event["ts"])) == 1
            assert slack.calls("apps.connections.open")


def test_start_up_checks_the_token_and_names_missing_scopes(
    tiny_engine: TransformersEngine, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, scopes="app_mentions:read,chat:write")
    with caplog.at_level("INFO"), run_bot(tiny_engine, redis_url, slack=slack):
        assert slack.calls("auth.test")
    missing = [r.getMessage() for r in caplog.records if "lacks scopes" in r.getMessage()]
    assert missing and "files:read" in missing[0] and "users:read" in missing[0]


def test_queue_and_generation_deadlines_each_have_their_own_message(
    busy_engine: TransformersEngine, tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(busy_engine, redis_url, max_new_tokens=20, queue_timeout_seconds=0.3) as bot:
        first = _mention(bot, "CDEAD", "first question")
        bot.post_event(first)
        bot.slack.wait_for(lambda: bot.slack.statuses("CDEAD", first["ts"]))  # it started
        second = _mention(bot, "CDEAD", "second question", user="UBOB0001")
        bot.post_event(second)
        [waited] = bot.wait_for_answer("CDEAD", second["ts"])
        assert "gave up waiting" in waited
    with run_bot(tiny_engine, redis_url, generation_timeout_seconds=0.000001) as bot:
        event = _mention(bot, "CSLOW", "what is this?")
        bot.post_event(event)
        [slow] = bot.wait_for_answer("CSLOW", event["ts"])
        assert "took too long" in slow


def test_shutdown_finishes_answers_within_the_grace_period_then_says_so(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    paced = PacedEngine(tiny_engine, seconds_per_piece=0.5)
    with run_bot(paced, redis_url, max_new_tokens=40, shutdown_grace_seconds=0.5) as bot:
        event = _mention(bot, "CSTOP", "what is this?")
        bot.post_event(event)
        bot.slack.wait_for(lambda: bot.slack.thread_messages("CSTOP", event["ts"]))
        slack, answered = bot.slack, bot
    # leaving the block shut the bot down, as SIGTERM does
    [answer] = answered.answers_in("CSTOP", event["ts"])
    assert "restarting" in answer and slack.statuses("CSTOP", event["ts"])[-1] == ""


def test_a_chinese_question_is_answered_in_chinese(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    with run_bot(tiny_engine, redis_url) as bot:
        event = _mention(bot, "CZHQ", "这个错误是什么意思？")
        bot.post_event(event)
        bot.wait_for_answer("CZHQ", event["ts"])
        system = bot.engine.requests[-1].messages[0].text
        assert "Answer in Chinese" in system


def test_socket_mode_questions_are_recorded_until_answered(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, app_token="xapp-1-A0TEST001-socket")
    paced = PacedEngine(tiny_engine, seconds_per_piece=0.2)
    with FakeSocketMode() as socket_mode:
        slack.socket_mode_url = socket_mode.url
        with run_bot(
            paced,
            redis_url,
            slack=slack,
            max_new_tokens=20,
            slack_app_token="xapp-1-A0TEST001-socket",
        ) as bot:
            socket_mode.wait_connected()
            event = _mention(bot, "CSOCKREC", "what does this mean?")
            payload = envelope(event, event_id="EvSOCKREC1")
            client = Redis.from_url(redis_url)
            try:
                envelope_id = socket_mode.send_event(payload)
                slack.wait_for(lambda: socket_mode.acked(envelope_id))
                key = f"{bot.redis_prefix}:slack:unanswered"
                assert client.hexists(key, "EvSOCKREC1"), "recorded before it was answered"
                bot.wait_for_answer("CSOCKREC", event["ts"])
                slack.wait_for(lambda: not client.hexists(key, "EvSOCKREC1"))
            finally:
                client.close()
