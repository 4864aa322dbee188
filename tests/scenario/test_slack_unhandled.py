"""Every Slack delivery is acknowledged, also those no listener handles (escalation off here).

The payloads have the shapes bolt-python's own tests send
(slackapi/bolt-python tests/scenario_tests_async/test_block_actions.py `body`,
test_shortcut.py `message_shortcut_body` and `global_shortcut_body`, test_slash_command.py,
test_view_submission.py) and Slack's interaction payload pages
(https://docs.slack.dev/reference/interaction-payloads/block_actions-payload,
https://docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.messages import Message, say
from tests.support.fake_slack import TEAM_ID
from tests.support.running_bot import SIGNING_SECRET, RunningBot
from tests.support.slack_events import message_event, signed_headers

pytestmark = pytest.mark.slow


def _form(bot: RunningBot, fields: dict[str, str]) -> httpx.Response:
    body = urlencode(fields).encode()
    headers = signed_headers(SIGNING_SECRET, body) | {
        "Content-Type": "application/x-www-form-urlencoded"
    }
    return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)


def _interact(bot: RunningBot, payload: dict[str, Any]) -> httpx.Response:
    return _form(bot, {"payload": json.dumps(payload)})


def _old_button(bot: RunningBot, hook: str, action_id: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "UALICE01", "username": "alice", "name": "alice", "team_id": TEAM_ID},
        "api_app_id": "A0TEST001",
        "token": "verification_token",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": "COLD",
            "is_ephemeral": False,
        },
        "trigger_id": "111.222.valid",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "channel": {"id": "COLD", "name": "support"},
        "message": {"type": "message", "ts": "1700000000.000001", "text": "an old answer"},
        "response_url": f"{bot.slack_url}/respond/{hook}",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "feedback",
                "text": {"type": "plain_text", "text": "Get a human", "emoji": True},
                "value": "1700000000.000001",
                "type": "button",
                "action_ts": "1596530385.194939",
            }
        ],
    }


def _responses_to(bot: RunningBot, count: int) -> list[dict[str, Any]]:
    return bot.slack.wait_for(
        lambda: bot.slack.responses if len(bot.slack.responses) >= count else None
    )


def test_an_old_button_is_acknowledged_and_said_to_be_no_longer_active(
    running_bot: RunningBot,
) -> None:
    before = len(running_bot.slack.responses)
    for action in ("escalate", "escalation:take", "something_from_an_old_version"):
        response = _interact(running_bot, _old_button(running_bot, "old", action))
        assert response.status_code == 200, (action, response.text)
    answers = _responses_to(running_bot, before + 3)[before:]
    assert [a["text"] for a in answers] == [say(Message.BUTTON_NO_LONGER_ACTIVE)] * 3
    assert all(a["response_type"] == "ephemeral" for a in answers)
    assert all(a["replace_original"] is False for a in answers), "the old message stays"


def test_escalate_command_and_shortcut_say_escalation_is_not_set_up(
    running_bot: RunningBot,
) -> None:
    command = _form(
        running_bot,
        {
            "token": "verification_token",
            "team_id": TEAM_ID,
            "team_domain": "acme",
            "channel_id": "CNOESC",
            "channel_name": "support",
            "user_id": "UALICE01",
            "user_name": "alice",
            "command": "/escalate",
            "text": "",
            "api_app_id": "A0TEST001",
            "response_url": f"{running_bot.slack_url}/respond/cmd",
            "trigger_id": "111.222.xxx",
        },
    )
    assert command.status_code == 200
    # A plain-text ack is shown to the user alone (slash commands page, "Responding").
    assert command.text == say(Message.ESCALATION_NOT_CONFIGURED)

    before = len(running_bot.slack.responses)
    shortcut = _interact(
        running_bot,
        {
            "type": "message_action",
            "token": "verification_token",
            "action_ts": "1583637157.207593",
            "team": {"id": TEAM_ID, "domain": "acme"},
            "user": {"id": "UALICE01", "name": "alice"},
            "channel": {"id": "CNOESC", "name": "support"},
            "callback_id": "escalate_message",
            "trigger_id": "111.222.xxx",
            "message_ts": "1583636382.000300",
            "message": {
                "type": "message",
                "text": "my build fails",
                "user": "UALICE01",
                "ts": "1583636382.000300",
            },
            "response_url": f"{running_bot.slack_url}/respond/shortcut",
        },
    )
    assert shortcut.status_code == 200
    [answer] = _responses_to(running_bot, before + 1)[before:]
    assert answer["text"] == say(Message.ESCALATION_NOT_CONFIGURED)
    assert answer["response_type"] == "ephemeral"
    assert not running_bot.slack.calls("chat.postMessage"), "nothing posted in the channel"


def test_views_shortcuts_and_events_without_listeners_get_a_2xx_and_one_log_line(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    view = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": "UALICE01", "team_id": TEAM_ID},
        "api_app_id": "A0TEST001",
        "token": "verification_token",
        "trigger_id": "111.222.valid",
        "view": {
            "id": "V111",
            "type": "modal",
            "callback_id": "escalation:resolution",
            "private_metadata": json.dumps([TEAM_ID, "CX", "1.2"]),
            "state": {"values": {}},
        },
    }
    global_shortcut = {
        "type": "shortcut",
        "token": "verification_token",
        "action_ts": "111.111",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": "UALICE01", "username": "alice", "team_id": TEAM_ID},
        "callback_id": "a-global-shortcut",
        "trigger_id": "111.111.xxxxxx",
    }
    reaction = message_event(channel="CREACT", text="") | {
        "type": "reaction_added",
        "reaction": "thumbsup",
        "item": {"type": "message", "channel": "CREACT", "ts": "1700000000.000002"},
        "item_user": "UBOB0001",
        "event_ts": "1700000000.000003",
    }
    with caplog.at_level(logging.INFO, logger="handlers.slack.unhandled"):
        for _ in range(2):
            assert _interact(running_bot, view).status_code == 200
            assert _interact(running_bot, global_shortcut).status_code == 200
            assert running_bot.post_event(reaction).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "handlers.slack.unhandled"]
    assert sum("view_submission 'escalation:resolution'" in line for line in lines) == 1
    assert sum("shortcut 'a-global-shortcut'" in line for line in lines) == 1
    assert sum("event 'reaction_added'" in line for line in lines) == 1
