"""End to end over HTTP: signed Slack events in, threaded answers out through the fake Slack."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from bot.conversation.prompting import fence_user_text
from bot.engine import ImagePart, Role, TextPart
from bot.engine.remote import RemoteEngine
from bot.engine.transformers_engine import TransformersEngine
from tests.support.fake_slack import BOT_USER_ID, LOGIN_PAGE
from tests.support.running_bot import RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.servers import free_port
from tests.support.slack_events import file_object, mention_event, message_event, next_ts

pytestmark = pytest.mark.slow

QUIET_PERIOD = 1.5  # seconds to wait before concluding the bot stayed quiet


def _mention(bot: RunningBot, channel: str, text: str, files: Sequence[str] = ()) -> dict[str, Any]:
    return mention_event(channel=channel, text=text, files_url=bot.slack_url, files=files)


def test_mention_with_screenshot_gets_working_indicator_then_answer_in_thread(
    running_bot: RunningBot,
) -> None:
    running_bot.slack.add_file("err-1.png", render_error_screenshot())
    event = _mention(running_bot, "C1", "what does this mean?", files=["err-1.png"])

    response = running_bot.post_event(event)

    assert response.status_code == 200
    [answer] = running_bot.wait_for_answer("C1", event["ts"])
    # The working indicator is the thread's status, cleared once the answer is there.
    # (cleared just after the answer is posted: wait for it rather than race it)
    running_bot.slack.wait_for(lambda: running_bot.slack.statuses("C1", event["ts"])[-1:] == [""])
    assert running_bot.slack.statuses("C1", event["ts"]) == ["Looking at your screenshot…", ""]
    assert answer.strip()
    request = running_bot.engine.requests[-1]
    assert request.messages[0].role is Role.SYSTEM
    assert "diagnose" in request.messages[0].text or "errors" in request.messages[0].text
    user = request.messages[-1]
    assert isinstance(user.parts[0], ImagePart)
    assert user.parts[-1] == TextPart(fence_user_text("what does this mean?"))


def test_follow_up_in_thread_without_mention_sees_history_and_screenshot(
    running_bot: RunningBot, tiny_engine: TransformersEngine
) -> None:
    running_bot.slack.add_file("err-2.png", render_error_screenshot())
    first = _mention(running_bot, "C2", "what is this error?", files=["err-2.png"])
    running_bot.post_event(first)
    running_bot.wait_for_answer("C2", first["ts"])

    follow_up = message_event(
        channel="C2", text="still failing after pip install", thread_ts=first["ts"]
    )
    hits, reused = tiny_engine.prefixes.hits, tiny_engine.prefixes.reused_tokens
    running_bot.post_event(follow_up)
    answers = running_bot.wait_for_answer("C2", first["ts"], count=2)

    assert len(answers) == 2
    request = running_bot.engine.requests[-1]
    roles = [m.role for m in request.messages]
    assert roles == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.USER]
    earlier_question, earlier_answer = request.messages[1], request.messages[2]
    assert earlier_question.parts[-1] == TextPart(fence_user_text("what is this error?"))
    assert len(earlier_question.images) == 1, "the screenshot is shown again from history"
    assert earlier_answer.text.strip()
    assert request.messages[3].parts[-1] == TextPart(
        fence_user_text("still failing after pip install")
    )
    assert running_bot.slack.downloads("err-2.png") == 1, "the screenshot is not downloaded twice"
    # nor encoded twice: the engine started from what it kept of the thread's first answer
    assert request.reuse_key is not None and request.reuse_key.endswith(f"C2:{first['ts']}")
    assert tiny_engine.prefixes.hits == hits + 1
    screenshot_end = tiny_engine.prepare(request).image_spans[0][1]
    assert tiny_engine.prefixes.reused_tokens - reused >= screenshot_end


def test_direct_message_is_answered_in_its_thread(running_bot: RunningBot) -> None:
    running_bot.slack.add_file("dm.png", render_error_screenshot())
    event = message_event(
        channel="D1",
        channel_type="im",
        text="what does this mean?",
        files=[file_object("dm.png", running_bot.slack_url)],
    )
    running_bot.post_event(event)
    [answer] = running_bot.wait_for_answer("D1", event["ts"])
    assert answer.strip()


def test_same_event_twice_and_retries_get_one_answer(running_bot: RunningBot) -> None:
    event = _mention(running_bot, "C3", "why does npm say EACCES?")
    running_bot.post_event(event, event_id="EvDUPLICATE1")
    running_bot.post_event(event, event_id="EvDUPLICATE1")
    retry = running_bot.post_event(
        event,
        event_id="EvDUPLICATE1",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status_code == 200
    running_bot.wait_for_answer("C3", event["ts"])
    time.sleep(QUIET_PERIOD)
    assert len(running_bot.slack.thread_messages("C3", event["ts"])) == 1


def test_app_mention_and_file_share_message_of_one_post_get_one_answer(
    running_bot: RunningBot,
) -> None:
    running_bot.slack.add_file("pair.png", render_error_screenshot())
    ts = next_ts()
    files = [file_object("pair.png", running_bot.slack_url)]
    text = f"<@{BOT_USER_ID}> what is this?"
    mention = message_event(channel="C4", kind="app_mention", text=text, ts=ts, files=files)
    share = message_event(channel="C4", text=text, ts=ts, files=files, subtype="file_share")
    running_bot.post_event(mention)
    running_bot.post_event(share)
    running_bot.wait_for_answer("C4", ts)
    time.sleep(QUIET_PERIOD)
    assert len(running_bot.slack.thread_messages("C4", ts)) == 1


def test_a_mention_with_a_file_delivered_only_as_a_message_event_is_answered_once(
    running_bot: RunningBot,
) -> None:
    # slackapi/bolt-python#925: a post mentioning the app with a file came only as
    # message/file_share, with no app_mention; the share first, then a late app_mention.
    running_bot.slack.add_file("only.png", render_error_screenshot())
    ts = next_ts()
    files = [file_object("only.png", running_bot.slack_url)]
    text = f"<@{BOT_USER_ID}> what is this?"
    share = message_event(channel="C4B", text=text, ts=ts, files=files, subtype="file_share")
    running_bot.post_event(share)
    [answer] = running_bot.wait_for_answer("C4B", ts)
    assert answer
    running_bot.post_event(
        message_event(channel="C4B", kind="app_mention", text=text, ts=ts, files=files)
    )
    time.sleep(QUIET_PERIOD)
    assert len(running_bot.slack.thread_messages("C4B", ts)) == 1


def test_bad_signature_is_refused_with_401_and_not_answered(running_bot: RunningBot) -> None:
    event = _mention(running_bot, "C5", "hello")
    response = running_bot.post_event(event, secret="not-the-signing-secret")
    assert response.status_code == 401
    time.sleep(QUIET_PERIOD)
    assert running_bot.slack.thread_messages("C5", event["ts"]) == []


def test_html_instead_of_image_is_named_in_the_reply_with_the_reason(
    running_bot: RunningBot,
) -> None:
    running_bot.slack.add_file("login.png", LOGIN_PAGE, content_type="text/html")
    event = _mention(running_bot, "C6", "what is this?", files=["login.png"])
    running_bot.post_event(event)
    [answer] = running_bot.wait_for_answer("C6", event["ts"])
    assert "login.png" in answer
    assert "files:read" in answer


def test_messages_not_for_the_bot_are_ignored(running_bot: RunningBot) -> None:
    unrelated_thread = message_event(channel="C7", text="anyone seen this?", thread_ts=next_ts())
    top_level = message_event(channel="C7", text="plain channel chatter")
    own = message_event(channel="C7", text="bot says hi", user=BOT_USER_ID)
    other_bot = message_event(channel="C7", text="deploy finished")
    other_bot["bot_id"] = "BOTHER01"
    edited = message_event(
        channel="D2", channel_type="im", text="edited", subtype="message_changed"
    )
    for event in (unrelated_thread, top_level, own, other_bot, edited):
        assert running_bot.post_event(event).status_code == 200
    time.sleep(QUIET_PERIOD)
    answered_channels = {c.args.get("channel") for c in running_bot.slack.calls("chat.postMessage")}
    assert answered_channels.isdisjoint({"C7", "D2"})


def test_health_and_readiness(running_bot: RunningBot) -> None:
    assert httpx.get(f"{running_bot.url}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{running_bot.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "model": "ready", "history": "ready"}


def test_readiness_names_the_redis_that_does_not_answer(tiny_engine: TransformersEngine) -> None:
    port = free_port()
    with run_bot(tiny_engine, f"redis://127.0.0.1:{port}/0") as bot:
        ready = httpx.get(f"{bot.url}/readyz")
    assert ready.status_code == 503
    history = ready.json()["history"]
    assert history.startswith(f"unreachable at 127.0.0.1:{port}: ConnectionError: ")


def test_readiness_never_shows_a_password_from_a_url() -> None:
    """`/readyz` is unauthenticated: the engine's and Redis's URLs lose `user:password@`."""
    redis_port, engine_port = free_port(), free_port()
    engine = RemoteEngine(f"http://svc:EngineUrlPw123@127.0.0.1:{engine_port}", "qwen")
    with run_bot(engine, f"redis://:S3cretRedisPw@127.0.0.1:{redis_port}/0") as bot:
        deadline = time.monotonic() + 30
        while True:
            ready = httpx.get(f"{bot.url}/readyz")
            if ready.json()["model"] != "loading" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert ready.status_code == 503
    assert "EngineUrlPw123" not in ready.text and "S3cretRedisPw" not in ready.text
    assert ready.json()["model"].startswith(
        f"failed: remote engine at http://127.0.0.1:{engine_port} unreachable"
    )
    assert ready.json()["history"].startswith(f"unreachable at 127.0.0.1:{redis_port}: ")
