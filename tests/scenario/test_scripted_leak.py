"""A model that leaks: its answer is scripted to say an AWS key, an e-mail and a phone number.

Nothing Slack receives (the placeholder, each streamed edit, the final text)
and nothing stored in history may hold them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import cast

import pytest
from redis import Redis

from bot.engine.transformers_engine import TransformersEngine
from tests.support.fake_slack import BOT_USER_ID
from tests.support.running_bot import RunningBot, run_bot
from tests.support.scripted_checkpoint import LEAKY_SCRIPT, build_scripted_checkpoint
from tests.support.slack_events import message_event

pytestmark = pytest.mark.slow

LEAKED = ["AKIAIOSFODNN7EXAMPLE", "alice@example.com", "+1 415 555 2671"]
USER_SECRET = "xoxb-998877665544-secretvalue"


@pytest.fixture(scope="module")
def leaky_bot(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningBot]:
    checkpoint = build_scripted_checkpoint(tmp_path_factory.mktemp("scripted"))
    engine = TransformersEngine(str(checkpoint), device="cpu", max_new_tokens=64)
    asyncio.run(engine.start())
    with run_bot(engine, redis_url, update_interval=0.0, max_new_tokens=64) as bot:
        yield bot
    asyncio.run(engine.close())


def test_the_scripted_model_really_leaks(leaky_bot: RunningBot) -> None:
    answer = "".join(LEAKY_SCRIPT)
    assert all(secret in answer for secret in LEAKED)


def test_slack_never_shows_the_leaked_secrets_not_even_mid_stream(leaky_bot: RunningBot) -> None:
    event = message_event(
        channel="CLEAK",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> login fails, my token is {USER_SECRET}",
    )
    leaky_bot.post_event(event)
    [answer] = leaky_bot.wait_for_answer("CLEAK", event["ts"])

    updates = leaky_bot.slack.calls("chat.update")
    assert len(updates) >= 2, "the answer was streamed in several edits"
    for call in leaky_bot.slack.calls():
        shown = json.dumps(call.args)
        for secret in [*LEAKED, USER_SECRET]:
            assert secret not in shown, f"{call.method} showed {secret}"
    assert "[redacted aws key]" in answer and "[redacted email]" in answer
    assert "[redacted phone]" in answer
    assert "sudo systemctl now." in answer, "text after the secrets still arrives"
    posts = leaky_bot.slack.calls("chat.postMessage")
    assert all(p.args.get("unfurl_links") in (False, "false", "False", "0") for p in posts)


def test_history_keeps_only_redacted_text(leaky_bot: RunningBot, redis_url: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=False)
    try:
        keys = list(client.scan_iter(f"{leaky_bot.redis_prefix}:history:*"))
        assert keys, "the thread was stored"
        stored = b"".join(
            b"".join(cast(list[bytes], client.lrange(key, 0, -1))) for key in keys
        ).decode()
    finally:
        client.close()
    for secret in [*LEAKED, USER_SECRET]:
        assert secret not in stored
    assert "[redacted slack token]" in stored


def test_the_model_saw_the_users_secret_redacted(leaky_bot: RunningBot) -> None:
    [request] = leaky_bot.engine.requests
    question = request.messages[-1].parts[-1].text  # type: ignore[union-attr]
    assert USER_SECRET not in question and "[redacted slack token]" in question
