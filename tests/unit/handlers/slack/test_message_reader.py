"""Message events as Slack sends them, read into Turns against a fake Slack Web API over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Language
from handlers.slack.message_reader import SlackMessageReader
from handlers.slack.names import SlackNames
from handlers.slack.user_language import UserLanguages
from handlers.slack.users import SlackUsers
from tests.support.fake_slack import FakeSlack
from tests.support.servers import ServerThread

TOKEN = "xoxb-reader-test"


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, AsyncWebClient]]:
    fake = FakeSlack(
        bot_token=TOKEN,
        user_names={"U05JAA9EN4T": "Lev", "U1": "Alice"},
        channel_names={"C07KTH1T4CQ": "payments-alerts"},
    )
    with ServerThread(fake.app) as server:
        fake.base_url = server.url
        yield fake, AsyncWebClient(token=TOKEN, base_url=f"{server.url}/api/")


async def test_a_mention_with_a_file_and_escaped_text(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    _, client = slack
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOT> why &lt;module&gt;?",
        "ts": "1.1",
        "channel": "C1",
        "files": [
            {
                "id": "F1",
                "name": "err.png",
                "mimetype": "image/png",
                "size": 10,
                "url_private_download": "https://files.slack.com/F1/err.png",
            }
        ],
    }
    turn = await SlackMessageReader().turn(event, team_id="T1", bot_user_id="UBOT", client=client)
    assert turn.text == "why <module>?"
    assert (turn.thread.space, turn.thread.thread_id, turn.message_ts) == ("C1", "1.1", "1.1")
    [attachment] = turn.attachments
    assert attachment.url == "https://files.slack.com/F1/err.png" and attachment.unavailable is None


async def test_a_reply_goes_to_its_thread_and_names_are_looked_up_once(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    reader = SlackMessageReader()
    for ts in ("2.2", "3.3"):
        event = {"user": "U1", "text": "ask <@U05JAA9EN4T>", "ts": ts, "thread_ts": "1.1"}
        turn = await reader.turn(
            event | {"channel": "C1"}, team_id="T1", bot_user_id="UBOT", client=client
        )
        assert turn.thread.thread_id == "1.1"
        assert turn.text == "ask @Lev"
    assert len(fake.calls("users.info")) == 1


async def test_names_that_cannot_be_looked_up_stay_ids(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    _, client = slack
    event = {"user": "U1", "text": "in <#CSECRET> ping <@UNKNOWN>", "ts": "1.1", "channel": "C1"}
    turn = await SlackMessageReader().turn(event, team_id="T1", bot_user_id="UBOT", client=client)
    assert turn.text == "in #CSECRET ping @UNKNOWN"


# MercuryTechnologies/slack-web tests/golden/SlackWebhookEvent/share_with_message.json: a real
# "share message" event (https://docs.slack.dev/messaging/formatting-message-text#attachments);
# here the shared message also carries a file, as a shared message with a screenshot does.
def _shared(with_files: bool) -> dict[str, Any]:
    share: dict[str, Any] = {
        "ts": "1724966776.474889",
        "author_id": "U05JAA9EN4T",
        "channel_id": "C07KTH1T4CQ",
        "channel_team": "T043DB835ML",
        "is_msg_unfurl": True,
        "message_blocks": [
            {
                "team": "T043DB835ML",
                "channel": "C07KTH1T4CQ",
                "ts": "1724966776.474889",
                "message": {
                    "blocks": [
                        {
                            "type": "rich_text",
                            "block_id": "BXn1o",
                            "elements": [
                                {
                                    "type": "rich_text_preformatted",
                                    "elements": [
                                        {
                                            "type": "text",
                                            "text": "psycopg2.OperationalError: could not "
                                            "connect to server\n\tIs the server running?",
                                        }
                                    ],
                                }
                            ],
                        }
                    ]
                },
            }
        ],
        "color": "D0D0D0",
        "from_url": "https://myworkspace.slack.com/archives/C07KTH1T4CQ/p1724966776474889",
        "is_share": True,
        "fallback": "[August 29th, 2024 2:26 PM] lev: psycopg2.OperationalError",
        "text": "```psycopg2.OperationalError: could not connect to server\n"
        "\tIs the server running?```",
        "author_name": "lev",
        "author_link": "https://myworkspace.slack.com/team/U05JAA9EN4T",
        "author_subname": "lev",
        "mrkdwn_in": ["text"],
        "footer": "Slack Conversation",
    }
    if with_files:
        share["files"] = [
            {
                "id": "F2",
                "name": "grafana.png",
                "mimetype": "image/png",
                "size": 10,
                "url_private_download": "https://files.slack.com/F2/grafana.png",
            }
        ]
    return {
        "user": "U1",
        "type": "message",
        "ts": "1724966800.923979",
        "text": "hello check that out!",
        "team": "T043DB835ML",
        "attachments": [share],
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "Yyg6K",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [{"type": "text", "text": "hello check that out!"}],
                    }
                ],
            }
        ],
        "channel": "C07KHDGQ7K3",
        "event_ts": "1724966800.923979",
        "channel_type": "channel",
    }


async def test_a_shared_message_adds_its_text_and_its_files(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    _, client = slack
    event = _shared(with_files=True)
    turn = await SlackMessageReader().turn(event, team_id="T1", bot_user_id="UBOT", client=client)
    assert turn.text == (
        "hello check that out!\n\n"
        "[shared message from @Lev in #payments-alerts]\n"
        "```\npsycopg2.OperationalError: could not connect to server\n"
        "\tIs the server running?\n```\n"
        "[end of shared message]"
    )
    assert [a.filename for a in turn.attachments] == ["grafana.png"]


async def test_a_forwarded_message_without_words_or_blocks_uses_its_text(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    _, client = slack
    event = _shared(with_files=False) | {"text": ""}
    del event["blocks"]
    del event["attachments"][0]["message_blocks"]
    turn = await SlackMessageReader().turn(event, team_id="T1", bot_user_id="UBOT", client=client)
    assert turn.text == (
        "[shared message from @Lev in #payments-alerts]\n"
        "```psycopg2.OperationalError: could not connect to server\n"
        "\tIs the server running?```\n"
        "[end of shared message]"
    )


async def test_a_share_from_a_private_channel_keeps_its_id_not_its_name(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    fake.private_channels.add("C07KTH1T4CQ")  # private channels have C ids too nowadays
    turn = await SlackMessageReader().turn(
        _shared(with_files=False), team_id="T1", bot_user_id="UBOT", client=client
    )
    assert "[shared message from @Lev in #C07KTH1T4CQ]" in turn.text
    assert "payments-alerts" not in turn.text


async def test_names_and_locales_share_one_users_info_lookup(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    fake.locales["U1"] = "zh-CN"
    users = SlackUsers()
    reader = SlackMessageReader(SlackNames(users=users))
    event = {"type": "message", "channel": "C1", "ts": "1.0", "user": "U2", "text": "ask <@U1>"}
    turn = await reader.turn(event, team_id="T1", bot_user_id="UBOT", client=client)
    assert "@Alice" in turn.text
    assert await UserLanguages(users).of(client, "U1") is Language.CHINESE
    assert len(fake.calls("users.info")) == 1, "one users.info for the name and the locale"


async def test_a_private_channel_the_asker_mentions_elsewhere_keeps_its_id(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    """Anyone can type `<#C…>` with any id; the bot's token would name a private channel it
    is in to a conversation outside it. Named only where the question is asked, or if public."""
    fake, client = slack
    fake.private_channels.add("C07KTH1T4CQ")
    reader = SlackMessageReader()
    text = "same error as <#C07KTH1T4CQ>"
    elsewhere = await reader.turn(
        {"user": "U1", "text": text, "ts": "1.1", "channel": "C1"},
        team_id="T1",
        bot_user_id="UBOT",
        client=client,
    )
    assert "payments-alerts" not in elsewhere.text
    assert "C07KTH1T4CQ" in elsewhere.text
    inside = await reader.turn(
        {"user": "U1", "text": text, "ts": "2.2", "channel": "C07KTH1T4CQ"},
        team_id="T1",
        bot_user_id="UBOT",
        client=client,
    )
    assert inside.text == "same error as #payments-alerts"
