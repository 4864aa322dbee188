"""Visible steps over HTTP against the fake Slack: task cards while the bot works."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine, GenerationRequest, Queued
from bot.engine.transformers_engine import TransformersEngine
from bot.errors import EngineBusy, GenerationTimeout
from bot.knowledge.index import KnowledgeIndex
from handlers.slack.steps import MAX_STEP_UPDATES
from tests.support.delegating_engine import DelegatingEngine
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.running_bot import BOT_TOKEN, RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.slack_events import file_object, mention_event, message_event

pytestmark = pytest.mark.slow

STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")


# Words enough that the reply filter, which holds back the last SAFE_CONTEXT characters
# after a whitespace, has shown some of them before the answer breaks off: the tiny
# model's own words may have no whitespace at all, and then nothing is shown until the end.
LEAD_IN = "The build fails because the proxy refuses the connection to the registry. " * 3


class BreakingEngine(DelegatingEngine):
    """`LEAD_IN` and the real engine's pieces, then `error`: a model that fails before its
    answer ends, after the reply filter has let some text through; with
    `before_first_word`, one that fails before it writes anything."""

    def __init__(self, inner: Engine, *, error: Exception, before_first_word: bool = False) -> None:
        super().__init__(inner)
        self._error = error
        self._early = before_first_word

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        if not self._early:
            yield LEAD_IN
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


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (EngineBusy(retry_after=30), "I am busy"),  # the engine refuses the request
        (GenerationTimeout("deadline passed"), "took too long"),  # an early deadline
        (RuntimeError("engine crashed"), "reference"),  # an engine failure
    ],
)
def test_an_answer_that_fails_before_its_first_word_ends_its_steps_in_error(
    tiny_engine: TransformersEngine, redis_url: str, error: Exception, says: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, rate_tiers=True)
    engine = BreakingEngine(tiny_engine, error=error, before_first_word=True)
    with run_bot(engine, redis_url, slack=slack, update_interval=0.0) as bot:
        slack.add_file("a.png", render_error_screenshot())
        event = mention_event(
            channel="CEARLY", text="why?", files_url=bot.slack_url, files=["a.png"]
        )
        bot.post_event(event)
        ts = _streamed(slack, "CEARLY", event["ts"])
        cards = slack.task_cards("CEARLY", ts)
        # The screenshot was read; the step that broke (writing the answer) says so.
        assert [(c["title"], c["status"]) for c in cards] == [
            ("Reading 1 screenshot(s)", "complete"),
            ("Writing the answer", "error"),
        ]
        assert says in slack.streamed_text("CEARLY", ts)
        assert not slack.is_streaming("CEARLY", ts)
        assert len(_card_calls(slack)) <= MAX_STEP_UPDATES


def test_a_failure_before_any_step_shows_no_cards(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, rate_tiers=True)
    engine = BreakingEngine(tiny_engine, error=EngineBusy(retry_after=30), before_first_word=True)
    with run_bot(engine, redis_url, slack=slack, update_interval=0.0) as bot:
        event = _mention(bot, "CNONE", "why?")
        bot.post_event(event)
        [answer] = bot.wait_for_answer("CNONE", event["ts"])
        assert "I am busy" in answer  # told in place, as before: nothing was under way
        assert not _card_calls(slack)


def test_a_channel_answered_only_from_a_source_ends_its_steps_when_nothing_is_found(
    tiny_engine: TransformersEngine, redis_url: str, tmp_path: Path
) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "vault.md").write_text("# Vault\n\n## ACME-4012 token\n\nRun `acme-vault renew`.\n")
    knowledge = tmp_path / "knowledge.toml"
    knowledge.write_text('[[sources]]\nname = "runbooks"\ntype = "folder"\npath = "runbooks"\n')
    policy = tmp_path / "channels.toml"
    policy.write_text("[channels.CSOURCE]\nanswer_only_with_source = true\n")
    index = tmp_path / "index.db"
    slack = FakeSlack(bot_token=BOT_TOKEN, streaming=True, rate_tiers=True)
    with run_bot(
        tiny_engine,
        redis_url,
        slack=slack,
        update_interval=0.0,
        channel_config=policy,
        knowledge_config=knowledge,
        knowledge_index=index,
        embedding_model="none",
        knowledge_sync_minutes=0,
    ) as bot:
        _wait_for_index(index)
        event = _mention(bot, "CSOURCE", "my printer in room 4 prints blank pages")
        bot.post_event(event)
        ts = _streamed(slack, "CSOURCE", event["ts"])
        updates = slack.task_updates("CSOURCE", ts)
        assert ("search-knowledge", "in_progress") not in updates[1:]  # never left under way
        cards = {c["id"]: (c["title"], c["status"]) for c in slack.task_cards("CSOURCE", ts)}
        assert cards["search-knowledge"] == ("Searching runbooks: 0 found", "complete")
        assert {status for _, status in cards.values()} == {"complete"}
        assert "only from a source" in slack.streamed_text("CSOURCE", ts)
        assert not bot.engine.requests, "no source: the model is not asked"
        assert len(_card_calls(slack)) <= MAX_STEP_UPDATES


def _wait_for_index(index: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # serve syncs in the background at start-up
        if index.is_file():
            reader = KnowledgeIndex(index, embedder=None)
            synced = bool(reader.counts())
            reader.close()
            if synced:
                return
        time.sleep(0.2)
    raise AssertionError("the knowledge index was not synced")


def _mention(bot: RunningBot, channel: str, text: str) -> dict[str, Any]:
    return mention_event(channel=channel, text=text, files_url=bot.slack_url)
