"""What Redis keeps of a Slack question is redacted, while answering and after; a secret in a
file name is neither kept nor echoed; nor is one the model read off a screenshot."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from bot.conversation.error_lines import MAX_NEW_TOKENS
from bot.engine.request import TextPart
from bot.engine.transformers_engine import TransformersEngine
from bot.knowledge.index import KnowledgeIndex
from tests.support.fake_slack import BOT_USER_ID
from tests.support.paced_engine import PacedEngine
from tests.support.redis_contents import stored_bytes
from tests.support.running_bot import RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.scripted_checkpoint import build_scripted_checkpoint
from tests.support.slack_events import file_object, message_event
from tests.support.started_engine import started_engine

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


# What the scripted model reads off any screenshot, and writes as its answer: the error
# line and a key that was on screen too.
READS = ["ACME-4012:", " vault", " token", " expired", " key", " AKIA", "IOSFODNN", "7EXAMPLE"]


@pytest.fixture(scope="module")
def reading_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersEngine]:
    with started_engine(
        build_scripted_checkpoint(tmp_path_factory.mktemp("reads-a-key"), READS)
    ) as engine:
        yield engine


def _knowledge(tmp_path: Path) -> dict[str, Any]:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "vault.md").write_text(
        "# Vault\n\n## ACME-4012: vault token expired\n\nRun `acme-vault renew`.\n"
    )
    config = tmp_path / "knowledge.toml"
    config.write_text(
        '[[sources]]\nname = "runbooks"\ntype = "folder"\npath = "runbooks"\n'
        'url_template = "https://kb.example.com/{path}"\n'
    )
    return {
        "knowledge_config": config,
        "knowledge_index": tmp_path / "index.db",
        "embedding_model": "none",
        "knowledge_sync_minutes": 0,
    }


def _synced(index: Path) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # serve syncs in the background at start-up
        if index.is_file():
            reader = KnowledgeIndex(index, embedder=None)
            counts = reader.counts()
            reader.close()
            if counts:
                return True
        time.sleep(0.2)
    return False


def _error_lines(redis_url: str, prefix: str) -> list[bytes]:
    client = Redis.from_url(redis_url)
    try:
        found = [client.get(key) for key in client.scan_iter(f"{prefix}:error_line:*")]
    finally:
        client.close()
    return [value for value in found if isinstance(value, bytes)]


def _ask_with_screenshot(bot: RunningBot, channel: str, name: str) -> None:
    bot.slack.add_file(name, render_error_screenshot(["ACME-4012: vault token expired"]))
    event = message_event(
        channel=channel,
        kind="app_mention",
        text=f"<@{BOT_USER_ID}>",
        files=[file_object(name, bot.slack_url)],
    )
    bot.post_event(event)
    bot.wait_for_answer(channel, event["ts"])


def test_a_screenshots_error_line_is_kept_redacted_once_for_every_replica(
    reading_engine: TransformersEngine, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    knowledge = _knowledge(tmp_path)
    with run_bot(reading_engine, redis_url, redis_key_prefix=redis_prefix, **knowledge) as bot:
        assert _synced(knowledge["knowledge_index"])
        _ask_with_screenshot(bot, "CLINE", "bare.png")
        reading, _ = bot.engine.requests
        assert reading.max_new_tokens == MAX_NEW_TOKENS, "the pass ran"
        [line] = _error_lines(redis_url, redis_prefix)
        assert line.startswith(b"ACME-4012: vault token expired")
        kept = stored_bytes(redis_url, redis_prefix)
        assert SECRET.encode() not in kept and b"IOSFODNN" not in kept

    # Another replica on the same Redis (or this one, restarted): the same image, read
    # once already, costs no second pass.
    with run_bot(reading_engine, redis_url, redis_key_prefix=redis_prefix, **knowledge) as bot:
        assert _synced(knowledge["knowledge_index"])
        _ask_with_screenshot(bot, "CLINE2", "same-image.png")
        [answer] = bot.engine.requests
        assert answer.max_new_tokens != MAX_NEW_TOKENS and len(answer.images) == 1
    kept = stored_bytes(redis_url, redis_prefix)
    assert SECRET.encode() not in kept and b"IOSFODNN" not in kept
    client = Redis.from_url(redis_url)
    try:  # this test named its own prefix, so it deletes what it wrote
        client.delete(*client.scan_iter(f"{redis_prefix}:*"))
    finally:
        client.close()
