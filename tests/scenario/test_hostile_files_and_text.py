"""Bad files and oversized questions through the running bot: each is named and skipped, or cut
with a notice, and the question is still answered."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.engine.transformers_engine import TransformersEngine
from tests.support.fake_slack import BOT_USER_ID
from tests.support.running_bot import RunningBot
from tests.support.screenshots import render_error_screenshot
from tests.support.slack_events import file_object, message_event

pytestmark = pytest.mark.slow


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def _ask(bot: RunningBot, channel: str, text: str, files: list[dict[str, object]]) -> str:
    event = message_event(
        channel=channel, kind="app_mention", text=f"<@{BOT_USER_ID}> {text}", files=files
    )
    bot.post_event(event)
    [answer] = bot.wait_for_answer(channel, event["ts"])
    return answer


def test_a_too_long_and_thin_image_is_named_and_the_text_answered(running_bot: RunningBot) -> None:
    running_bot.slack.add_file("tall.png", _png(1, 100_000))
    before = len(running_bot.engine.requests)
    answer = _ask(
        running_bot,
        "CTALL",
        "what does this mean?",
        [file_object("tall.png", running_bot.slack_url)],
    )
    assert "tall.png" in answer and "too long and thin to read" in answer
    assert "went wrong" not in answer
    assert len(running_bot.engine.requests) == before + 1, "the question was still answered"


def test_a_file_url_with_a_line_break_skips_that_file_only(running_bot: RunningBot) -> None:
    running_bot.slack.add_file("good.png", render_error_screenshot())
    bad = file_object("bad.png", running_bot.slack_url)
    bad["url_private"] = bad["url_private_download"] = (
        f"{running_bot.slack_url}/files/bad.png\r\nX-Injected: yes"
    )
    answer = _ask(
        running_bot,
        "CURL",
        "two screenshots",
        [bad, file_object("good.png", running_bot.slack_url)],
    )
    assert "bad.png" in answer and "address is malformed" in answer
    assert "went wrong" not in answer
    assert len(running_bot.engine.requests[-1].images) == 1, "the good file reached the model"


def test_a_huge_question_is_cut_with_a_notice_and_leaves_room_to_answer(
    running_bot: RunningBot, tiny_engine: TransformersEngine
) -> None:
    lines = [f"line {i}: java.lang.IllegalStateException at Foo{i}.bar" for i in range(1000)]
    question = "\n".join(lines)
    assert len(question) > 40_000
    answer = _ask(running_bot, "CLONG", question, [])
    assert f"Your message was long ({len(question)} characters)" in answer
    request = running_bot.engine.requests[-1]
    room = tiny_engine.context_window - tiny_engine.count_tokens(request)
    assert room >= (request.max_new_tokens or 0), "the answer has all its room"
    asked = request.messages[-1].parts[-1]
    assert "line 0:" in str(asked) and "line 999:" in str(asked), "its start and its end"
    assert "characters left out" in str(asked)
