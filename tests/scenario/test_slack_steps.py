"""Visible steps over HTTP against the fake Slack: task cards while the bot works."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.engine import Engine, GenerationRequest, Queued
from bot.engine.transformers_engine import TransformersEngine
from bot.errors import GenerationTimeout
from handlers.slack.steps import MAX_STEP_UPDATES
from tests.support.delegating_engine import DelegatingEngine
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.running_bot import BOT_TOKEN, RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.slack_events import file_object, mention_event, message_event

pytestmark = pytest.mark.slow

STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")


class BreakingEngine(DelegatingEngine):
    """The real engine's pieces, then `error`: a model that fails before its answer ends
    (after all its pieces, so the reply filter has let some text through)."""

    def __init__(self, inner: Engine, *, error: Exception) -> None:
        super().__init__(inner)
        self._error = error

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        async for piece in self._inner.stream(request):
            yield piece
        raise self._error


def _card_calls(slack: FakeSlack) -> list[Any]:
    return [c for m in STREAM_METHODS for c in slack.calls(m) if c.args.get("chunks")]


def _streamed(slack: FakeSlack, channel: str, ts: str) -> str:
    slack.wait_for(lambda: slack.calls("chat.stopStream"))
    [stream_ts] = slack.stream_messages(channel, ts)
    return stream_ts


def test_a_question_with_two_screenshots_and_a_log_shows_its_steps_in_order(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, rate_tiers=True)
    with run_bot(tiny_engine, redis_url, slack=slack, update_interval=0.05) as bot:
        for name in ("a.png", "b.png"):
            slack.add_file(name, render_error_screenshot())
        slack.add_file("app.log", b"INFO start\nERROR EACCES: permission denied\n", "text/plain")
        files = [file_object(n, bot.slack_url) for n in ("a.png", "b.png")]
        files.append(file_object("app.log", bot.slack_url, mimetype="text/plain"))
        event = message_event(
            channel="CSTEPS", kind="app_mention", text=f"<@{BOT_USER_ID}> failing", files=files
        )
        bot.post_event(event)
        ts = _streamed(slack, "CSTEPS", event["ts"])
        cards = slack.task_cards("CSTEPS", ts)
        assert [(c["title"], c["status"]) for c in cards] == [
            ("Reading 2 screenshot(s)", "complete"),
            ("Reading app.log", "complete"),
            ("Writing the answer", "complete"),
        ]
        updates = slack.task_updates("CSTEPS", ts)
        assert updates.index(("write-answer", "in_progress")) < updates.index(
            ("write-answer", "complete")
        )
        assert len(_card_calls(slack)) == MAX_STEP_UPDATES  # bounded, whatever the length
        assert not [c for c in slack.calls() if c.method.endswith("!429")]
        assert len(bot.engine.requests[-1].images) == 2


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (GenerationTimeout("deadline passed"), "took too long"),  # the bot refuses to go on
        (RuntimeError("engine crashed"), "reference"),  # an engine failure
    ],
)
def test_an_answer_that_fails_midway_ends_its_steps_in_error(
    tiny_engine: TransformersEngine, redis_url: str, error: Exception, says: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, rate_tiers=True)
    engine = BreakingEngine(tiny_engine, error=error)
    with run_bot(engine, redis_url, slack=slack, update_interval=0.0, max_new_tokens=40) as bot:
        event = _mention(bot, "CFAIL", "why does it fail?")
        bot.post_event(event)
        ts = _streamed(slack, "CFAIL", event["ts"])
        statuses = [c["status"] for c in slack.task_cards("CFAIL", ts)]
        assert statuses == ["error"]  # "Writing the answer"; no files were read
        assert says in slack.streamed_text("CFAIL", ts)
        assert len(_card_calls(slack)) == MAX_STEP_UPDATES


def _mention(bot: RunningBot, channel: str, text: str) -> dict[str, Any]:
    return mention_event(channel=channel, text=text, files_url=bot.slack_url)
