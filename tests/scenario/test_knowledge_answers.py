"""Slack answers grounded in the knowledge base: cited where allowed, never elsewhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.conversation.error_lines import MAX_NEW_TOKENS
from bot.engine.transformers_engine import TransformersEngine
from bot.knowledge.index import KnowledgeIndex
from tests.support.fake_helpdesk import FakeHelpdesk
from tests.support.fake_slack import BOT_USER_ID
from tests.support.running_bot import RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.servers import ServerThread
from tests.support.slack_events import file_object, message_event
from tests.support.webhook_deliveries import READ_TOKEN, SECRETS, deliver, wait_ended

pytestmark = pytest.mark.slow

FIX = "payctl unlock --ledger 2026"


@pytest.fixture
def bot(tiny_engine: TransformersEngine, redis_url: str, tmp_path: Path) -> Iterator[RunningBot]:
    public, private = tmp_path / "runbooks", tmp_path / "finance"
    public.mkdir()
    private.mkdir()
    (public / "vault.md").write_text(
        "# Vault\n\n## ACME-4012: vault token expired\n\nRun `acme-vault renew`.\n"
    )
    (private / "pay.md").write_text(f"# Payroll\n\n## PAY-7781 ledger locked\n\nRun `{FIX}`.\n")
    config = tmp_path / "knowledge.toml"
    config.write_text(
        '[[sources]]\nname = "runbooks"\ntype = "folder"\npath = "runbooks"\n'
        'url_template = "https://kb.example.com/{path}"\n\n'
        '[[sources]]\nname = "finance"\ntype = "folder"\npath = "finance"\n'
        'url_template = "https://kb.example.com/finance/{path}"\nchannels = ["CFIN"]\n'
    )
    index = tmp_path / "index.db"
    with run_bot(
        tiny_engine,
        redis_url,
        knowledge_config=config,
        knowledge_index=index,
        embedding_model="none",
        knowledge_sync_minutes=0,
    ) as running:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # serve syncs in the background at start-up
            if index.is_file():
                reader = KnowledgeIndex(index, embedder=None)
                synced = len(reader.counts()) == 2
                reader.close()
                if synced:
                    break
            time.sleep(0.2)
        yield running


def _ask(bot: RunningBot, channel: str, text: str) -> str:
    event: dict[str, Any] = message_event(
        channel=channel, kind="app_mention", text=f"<@{BOT_USER_ID}> {text}"
    )
    bot.post_event(event)
    bot.wait_for_answer(channel, event["ts"])
    [answer] = bot.answers_in(channel, event["ts"])
    return answer


def test_a_private_runbook_is_cited_only_in_its_channel(bot: RunningBot) -> None:
    question = "PAY-7781 ledger locked during the payroll run, what now?"
    public = _ask(bot, "CPUBLIC", question)
    assert FIX not in str(bot.engine.requests[-1])
    assert "finance/pay.md" not in public
    assert "No runbook matched this question" in public

    allowed = _ask(bot, "CFIN", question)
    assert FIX in str(bot.engine.requests[-1]), "the runbook is in this channel's prompt"
    assert "<https://kb.example.com/finance/pay.md|Payroll>" in allowed
    assert "Sources:" in allowed


def test_a_public_runbook_is_cited_everywhere(bot: RunningBot) -> None:
    answer = _ask(bot, "CANY", "deploy fails with ACME-4012 vault token expired")
    assert "<https://kb.example.com/vault.md|Vault>" in answer


def _mention_with_a_bare_screenshot(bot: RunningBot, shot: bytes) -> None:
    """Mentions the bot in CPUBLIC with `shot` and no words, and waits for the answer."""
    bot.slack.add_file("bare.png", shot)
    event = message_event(
        channel="CPUBLIC",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}>",
        files=[file_object("bare.png", bot.slack_url)],
    )
    bot.post_event(event)
    bot.wait_for_answer("CPUBLIC", event["ts"])


def test_a_bare_screenshot_is_read_for_its_error_line_before_the_search(bot: RunningBot) -> None:
    _mention_with_a_bare_screenshot(
        bot, render_error_screenshot(["ACME-4012: vault token expired"])
    )
    *_, reading, answer = bot.engine.requests
    # The short first pass: the screenshot alone, the dedicated prompt, a short cap.
    assert reading.max_new_tokens == MAX_NEW_TOKENS and len(reading.images) == 1
    assert "Copy the error line" in str(reading.messages[0])
    assert len(answer.images) == 1 and answer.max_new_tokens != MAX_NEW_TOKENS


def test_slack_and_a_helpdesk_read_the_same_screenshot_once(
    tiny_engine: TransformersEngine, redis_url: str, tmp_path: Path
) -> None:
    shot = render_error_screenshot(["ACME-4012: vault token expired"])
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "vault.md").write_text("# Vault\n\n## ACME-4012\n\nRun `acme-vault renew`.\n")
    config = tmp_path / "knowledge.toml"
    config.write_text('[[sources]]\nname = "runbooks"\ntype = "folder"\npath = "runbooks"\n')
    index = tmp_path / "index.db"
    helpdesk = FakeHelpdesk()
    helpdesk.add_file("err.png", shot)
    with (
        ServerThread(helpdesk.app) as api,
        run_bot(
            tiny_engine,
            redis_url,
            knowledge_config=config,
            knowledge_index=index,
            embedding_model="none",
            knowledge_sync_minutes=0,
            generic_webhook_secret=SECRETS["generic"],
            webhook_attachment_hosts=["127.0.0.1"],
            webhook_allowed_networks=["127.0.0.0/8"],
            jobs_read_token=READ_TOKEN,
        ) as bot,
    ):
        helpdesk.url = api.url
        _mention_with_a_bare_screenshot(bot, shot)
        passes = [r for r in bot.engine.requests if r.max_new_tokens == MAX_NEW_TOKENS]
        assert len(passes) == 1, "Slack read the screenshot's error line"

        asked = len(bot.engine.requests)
        body = {
            "ticket_id": "G-26",
            "text": "help",
            "attachments": [{"name": "same.png", "url": f"{helpdesk.url}/files/err.png"}],
        }
        response = deliver(bot, "generic", body)
        assert response.status_code == 202
        assert wait_ended(bot, response.json()["job"])["state"] == "done"
        [answer] = bot.engine.requests[asked:]
        assert len(answer.images) == 1 and answer.max_new_tokens != MAX_NEW_TOKENS
