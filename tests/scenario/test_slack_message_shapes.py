"""What users paste, in the shapes Slack sends it, reaches the model as the user saw it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.prompting import fence_user_text
from bot.engine import GenerationRequest, ImagePart, TextPart
from tests.support.fake_slack import BOT_USER_ID
from tests.support.running_bot import RunningBot
from tests.support.screenshots import render_error_screenshot
from tests.support.slack_events import file_object, message_event, snippet_object

pytestmark = pytest.mark.slow

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "<stdin>", line 1, in <module>\n'
    "ModuleNotFoundError: No module named 'yaml'"
)


def _slack_escaped(text: str) -> str:
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _question(request: GenerationRequest) -> str:
    return "".join(p.text for p in request.messages[-1].parts if isinstance(p, TextPart))


def _asked(bot: RunningBot, channel: str, ts: str) -> GenerationRequest:
    bot.wait_for_answer(channel, ts)
    return next(
        r for r in reversed(bot.engine.requests) if r.reuse_key and r.reuse_key.endswith(ts)
    )


def test_a_pasted_traceback_reaches_the_model_as_the_user_saw_it(
    running_bot: RunningBot,
) -> None:
    # Only `text`, as older clients and integrations send it: Slack's escaping decoded.
    event = message_event(
        channel="CSHAPE1",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> what now?\n```{_slack_escaped(TRACEBACK)}```",
    )
    running_bot.post_event(event)
    asked = _question(_asked(running_bot, "CSHAPE1", event["ts"]))
    # Slack's escaping is undone and the fence leaves brackets that are not its own.
    assert fence_user_text(f"what now?\n```{TRACEBACK}```") in asked
    assert 'File "<stdin>", line 1, in <module>' in asked
    assert "&lt;" not in asked and "&amp;" not in asked


def test_rich_text_code_blocks_reach_the_model_as_code_with_their_lines(
    running_bot: RunningBot,
) -> None:
    # A person the bot has not looked up yet (names and locales share one users.info cache).
    running_bot.slack.user_names["UALICE09"] = "Alice"
    blocks = [
        {
            "type": "rich_text",
            "block_id": "a1",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "user", "user_id": BOT_USER_ID},
                        {"type": "text", "text": " after "},
                        {"type": "text", "text": "pip install", "style": {"code": True}},
                        {"type": "text", "text": " "},
                        {"type": "user", "user_id": "UALICE09"},
                        {"type": "text", "text": " gets:\n"},
                    ],
                },
                {
                    "type": "rich_text_preformatted",
                    "elements": [{"type": "text", "text": TRACEBACK}],
                },
            ],
        }
    ]
    event = message_event(
        channel="CSHAPE2",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> after `pip install` <@UALICE01> gets:\n```"
        + _slack_escaped(TRACEBACK)
        + "```",
        blocks=blocks,
    )
    running_bot.post_event(event)
    asked = _question(_asked(running_bot, "CSHAPE2", event["ts"]))
    assert fence_user_text(f"after `pip install` @Alice gets:\n\n```\n{TRACEBACK}\n```") in asked


def test_a_snippet_and_a_log_file_are_read_and_a_binary_is_named(
    running_bot: RunningBot,
) -> None:
    slack = running_bot.slack
    snippet = "import yaml\nprint(yaml.safe_load(open('c.yml')))"
    slack.add_file("repro.py", snippet.encode(), content_type="text/plain")
    log = "\n".join([f"INFO tick {n}" for n in range(50)] + ["ERROR token=abcd1234efgh failed"])
    slack.add_file("worker.log", log.encode("utf-16"), content_type="application/octet-stream")
    slack.add_file("core.dump", b"\x7fELF\x02\x01\x01" + bytes(range(256)))
    files = [
        snippet_object("repro.py", running_bot.slack_url, snippet, filetype="python"),
        file_object("worker.log", running_bot.slack_url, mimetype="text/plain"),
        file_object("core.dump", running_bot.slack_url, mimetype="application/octet-stream"),
    ]
    event = message_event(
        channel="CSHAPE3", kind="app_mention", text=f"<@{BOT_USER_ID}> why?", files=files
    )
    running_bot.post_event(event)
    request = _asked(running_bot, "CSHAPE3", event["ts"])
    [answer] = running_bot.answers_in("CSHAPE3", event["ts"])
    asked = _question(request)
    assert snippet in asked and "ERROR token=" in asked and "INFO tick 49" in asked
    assert "abcd1234efgh" not in asked, "secrets in files are redacted before the model"
    assert '3. "core.dump": NOT READ, because it is neither' in asked
    assert "core.dump" in answer and "neither a PNG" in answer


def test_a_shared_message_brings_its_text_and_its_screenshot(running_bot: RunningBot) -> None:
    slack = running_bot.slack
    slack.user_names["UBOB0001"] = "Bob"
    slack.channel_names["CPAY"] = "payments-alerts"  # a public channel: its name may show
    # The file was shared into the asking conversation too, so it is read.
    grafana = slack.add_shared_file(
        "FGRAFANA1", "grafana.png", render_error_screenshot(), shared_in=["CPAY", "CSHAPE4"]
    )
    share: dict[str, Any] = {
        "ts": "1724966776.474889",
        "author_id": "UBOB0001",
        "channel_id": "CPAY",
        "is_msg_unfurl": True,
        "is_share": True,
        "from_url": "https://acme.slack.com/archives/CPAY/p1724966776474889",
        "text": "checkout fails with `500` &amp; the log says &lt;timeout&gt;",
        "fallback": "[August 29th, 2024 2:26 PM] bob: checkout fails",
        "author_name": "bob",
        "mrkdwn_in": ["text"],
        "footer": "Slack Conversation",
        "files": [grafana],
    }
    event = message_event(
        channel="CSHAPE4",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> is this the same as yesterday?",
        attachments=[share],
    )
    running_bot.post_event(event)
    request = _asked(running_bot, "CSHAPE4", event["ts"])
    asked = _question(request)
    assert "[shared message from @Bob in #payments-alerts]" in asked
    # Slack's escaping undone; the fence's own turns the brackets into entities once.
    assert "checkout fails with `500` & the log says <timeout>" in asked
    assert "&amp;" not in asked
    assert [p.name for p in request.messages[-1].parts if isinstance(p, ImagePart)] == [
        "grafana.png"
    ]
    assert slack.downloads("grafana.png") == 1


def test_several_screenshots_keep_their_order_and_names(running_bot: RunningBot) -> None:
    names = ["1-before.png", "2-error.png", "3-console.png"]
    for name in names:
        running_bot.slack.add_file(name, render_error_screenshot())
    event = message_event(
        channel="CSHAPE5",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> in this order",
        files=[file_object(name, running_bot.slack_url) for name in names],
    )
    running_bot.post_event(event)
    request = _asked(running_bot, "CSHAPE5", event["ts"])
    parts = request.messages[-1].parts
    assert [p.name for p in parts if isinstance(p, ImagePart)] == names
    asked = _question(request)
    for number, name in enumerate(names, start=1):
        assert f'{number}. "{name}": image {number} of this message.' in asked


def test_a_message_shared_from_a_private_channel_opens_no_file_and_names_no_channel(
    running_bot: RunningBot,
) -> None:
    slack = running_bot.slack
    slack.channel_names["GSECRET1"] = "incident-layoffs"  # the bot is in it, the asker is not
    secret = slack.add_shared_file(
        "FSECRET01", "secret-plan.png", render_error_screenshot(), shared_in=["GSECRET1"]
    )
    share: dict[str, Any] = {
        "ts": "1724966776.474890",
        "author_id": "UBOB0001",
        "channel_id": "GSECRET1",
        "is_share": True,
        "text": "see <#GSECRET1> for the plan",
        "files": [secret],
    }
    event = message_event(
        channel="CSHAPE6",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> what does this error mean?",
        attachments=[share],
    )
    running_bot.post_event(event)
    request = _asked(running_bot, "CSHAPE6", event["ts"])
    asked = _question(request)
    assert "incident-layoffs" not in asked
    assert not [
        c for c in slack.calls("conversations.info") if c.args.get("channel") == "GSECRET1"
    ], "no name lookup for the share's channel"
    assert slack.downloads("secret-plan.png") == 0
    assert not [p for p in request.messages[-1].parts if isinstance(p, ImagePart)]
    assert "secret-plan.png" in asked and "NOT READ" in asked, "the answer says why"
