"""What Redis keeps of a Slack question is redacted, while answering and after; a secret in a
file name is neither kept nor echoed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.engine.request import TextPart
from bot.engine.transformers_engine import TransformersEngine
from tests.support.fake_slack import BOT_USER_ID
from tests.support.paced_engine import PacedEngine
from tests.support.redis_contents import stored_bytes
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
        kept = stored_bytes(redis_url, slow_bot.redis_prefix)
        return kept if b"EvREST001" in kept or b"CREST" in kept else None

    # While the answer is being written, the delivery is in the work log: redacted.
    during = slow_bot.slack.wait_for(unanswered_recorded)
    assert b"deploy fails" in during
    assert SECRET.encode() not in during and MAIL.encode() not in during

    [answer] = slow_bot.wait_for_answer("CREST", event["ts"])
    after = stored_bytes(redis_url, slow_bot.redis_prefix)
    assert SECRET.encode() not in after and MAIL.encode() not in after
    shown = json.dumps([c.args for c in slow_bot.slack.calls()])
    assert SECRET not in shown and MAIL not in shown, "Slack never saw them either"
    assert slow_bot.engine.requests, "the question was answered"
    asked = slow_bot.engine.requests[-1].messages[-1].parts[-1]
    assert isinstance(asked, TextPart) and "[redacted aws key]" in asked.text
    assert answer
