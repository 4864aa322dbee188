"""Escalation end to end: a thread handed to people, resolved, and remembered for next time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.engine.request import TextPart
from bot.engine.transformers_engine import TransformersEngine
from bot.messages import Message, detect_language, say
from handlers.slack.escalation.guard import SHORTCUT_LIMIT
from tests.support.fake_helpdesk import FakeHelpdesk
from tests.support.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.support.running_bot import BOT_TOKEN, SIGNING_SECRET, RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.servers import ServerThread
from tests.support.slack_events import file_object, message_event, signed_headers

pytestmark = pytest.mark.slow

DESK = "CDESK01"
ONCALL = "S0ONCALL"
QUIET_PERIOD = 1.5


@pytest.fixture(scope="module")
def bot(tiny_engine: TransformersEngine, redis_url: str) -> Iterator[RunningBot]:
    slack = FakeSlack(bot_token=BOT_TOKEN, usergroups={ONCALL: ["UAGENT01"]})
    with run_bot(
        tiny_engine, redis_url, slack=slack, escalation_channel=DESK, escalation_usergroup=ONCALL
    ) as running:
        yield running


def _interact(bot: RunningBot, payload: dict[str, Any]) -> httpx.Response:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = signed_headers(SIGNING_SECRET, body) | {
        "Content-Type": "application/x-www-form-urlencoded"
    }
    return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)


def _click(
    bot: RunningBot, action_id: str, value: str, *, channel: str, message: dict[str, Any], user: str
) -> httpx.Response:
    return _interact(
        bot,
        {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "api_app_id": "A0TEST001",
            "token": "legacy",
            "trigger_id": "trigger-1",
            "container": {"type": "message", "channel_id": channel, "message_ts": message["ts"]},
            "channel": {"id": channel},
            "message": message,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "value": value,
                    "block_id": "b",
                    "action_ts": str(time.time()),
                }
            ],
        },
    )


def _ask(bot: RunningBot, channel: str, text: str, **kwargs: Any) -> dict[str, Any]:
    event = message_event(
        channel=channel, kind="app_mention", text=f"<@{BOT_USER_ID}> {text}", **kwargs
    )
    bot.post_event(event)
    bot.wait_for_answer(channel, event["ts"])
    return event


def _answer_message(bot: RunningBot, channel: str, thread_ts: str) -> dict[str, Any]:
    call = bot.slack.thread_messages(channel, thread_ts)[0]
    # The answer's last version: its post, or the last edit of it.
    edits = [c for c in bot.slack.calls("chat.update") if c.args["ts"] == call.args["_ts"]]
    update = (edits or [call])[-1]
    blocks = update.args["blocks"]
    return {
        "ts": call.args["_ts"],
        "thread_ts": thread_ts,
        "text": update.args["text"],
        "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
    }


def _thread_texts(bot: RunningBot, channel: str, thread_ts: str) -> list[str]:
    return [c.args["text"] for c in bot.slack.thread_messages(channel, thread_ts)]


def test_get_a_human_take_it_resolve_and_remember(bot: RunningBot) -> None:
    bot.slack.channel_names["CESC"] = "esc"  # a public channel: its resolutions are shared
    bot.slack.add_file("esc.png", render_error_screenshot())
    first = _ask(
        bot,
        "CESC",
        "ConnectionRefusedError on port 5432 when the app starts",
        files=[file_object("esc.png", bot.slack_url)],
    )
    answer = _answer_message(bot, "CESC", first["ts"])
    actions = [
        e["action_id"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == ["feedback:solved", "feedback:not_helpful", "escalate"]

    assert (
        _click(
            bot, "escalate", first["ts"], channel="CESC", message=answer, user="UALICE01"
        ).status_code
        == 200
    )
    desk = bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("chat.postMessage") if c.args["channel"] == DESK]
    )
    post = desk[0].args
    assert f"<!subteam^{ONCALL}>" in post["text"] and "<@UALICE01>" in post["text"]
    assert f"archives/CESC/p{first['ts']}" in post["text"], "link to the thread"
    bot.slack.wait_for(lambda: bot.slack.uploads)
    assert render_error_screenshot() in bot.slack.uploads.values(), (
        "the screenshot went to the desk"
    )
    # The status speaks the language of the message the button was on (the tiny model's
    # answer, whose random text may hold Han characters).
    status = say(Message.ESCALATED_STATUS, detect_language(answer["text"]), user="UALICE01")
    assert status in _thread_texts(bot, "CESC", first["ts"])
    assert any(c.args["name"] == "sos" for c in bot.slack.calls("reactions.add"))
    updated = [c for c in bot.slack.calls("chat.update") if c.args["ts"] == answer["ts"]][-1]
    assert "escalate" not in str(updated.args["blocks"]), "the Get a human button is gone"

    requests_before = len(bot.engine.requests)
    follow_up = message_event(channel="CESC", text="any news?", thread_ts=first["ts"])
    bot.post_event(follow_up)
    time.sleep(QUIET_PERIOD)
    assert len(bot.engine.requests) == requests_before, "the bot stays quiet in an escalated thread"

    desk_message = {"ts": desk[0].args["_ts"], "text": post["text"]}
    value = json.dumps([TEAM_ID, "CESC", first["ts"]])
    _click(bot, "escalation:take", value, channel=DESK, message=desk_message, user="UAGENT01")
    bot.slack.wait_for(
        lambda: any(
            "UAGENT01" in t and "looking" in t for t in _thread_texts(bot, "CESC", first["ts"])
        )
    )
    _click(bot, "escalation:resolve", value, channel=DESK, message=desk_message, user="UAGENT01")
    [modal] = bot.slack.wait_for(lambda: bot.slack.calls("views.open"))
    view = (
        json.loads(modal.args["view"])
        if isinstance(modal.args["view"], str)
        else modal.args["view"]
    )
    assert view["private_metadata"] == value
    _interact(
        bot,
        {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": "UAGENT01"},
            "api_app_id": "A0TEST001",
            "token": "legacy",
            "trigger_id": "t2",
            "view": {
                "id": "V0001",
                "type": "modal",
                "callback_id": "escalation:resolution",
                "private_metadata": value,
                "state": {
                    "values": {
                        "resolution": {
                            "text": {
                                "type": "plain_text_input",
                                "value": "Postgres was stopped after the reboot; systemctl enable --now postgresql",
                            }
                        }
                    }
                },
            },
        },
    )
    bot.slack.wait_for(
        lambda: any("Resolved by <@UAGENT01>" in t for t in _thread_texts(bot, "CESC", first["ts"]))
    )
    # The 🆘 goes after the status line is posted: wait for it rather than race it.
    bot.slack.wait_for(
        lambda: any(c.args["name"] == "sos" for c in bot.slack.calls("reactions.remove"))
    )

    later = _ask(bot, "COTHER", "the app says ConnectionRefusedError port 5432 again")
    [answer_text] = bot.answers_in("COTHER", later["ts"])
    assert "Drawing on 1 past resolution" in answer_text
    # the past resolution goes with the question, so the thread's prefix stays reusable
    question = bot.engine.requests[-1].messages[-1].parts[0].text  # type: ignore[union-attr]
    assert "systemctl enable --now postgresql" in question


def test_asking_for_a_human_in_words_escalates(bot: RunningBot) -> None:
    event = message_event(
        channel="CWORDS",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> this is useless, I want to talk to a human",
    )
    requests_before = len(bot.engine.requests)
    bot.post_event(event)
    bot.slack.wait_for(
        lambda: any("asked for a person" in t for t in _thread_texts(bot, "CWORDS", event["ts"]))
    )
    # The status is posted before the summary is written; the desk post carries the
    # summary, so once it is there the summary's model request has been made.
    bot.slack.wait_for(
        lambda: [
            c
            for c in bot.slack.calls("chat.postMessage")
            if c.args["channel"] == DESK and f"archives/CWORDS/p{event['ts']}" in c.args["text"]
        ]
    )
    # only the hand-over summary ran on the model, no answer to the message itself
    assert len(bot.engine.requests) == requests_before + 1
    assert "hand-over" in bot.engine.requests[-1].messages[0].parts[0].text  # type: ignore[union-attr]


def test_chinese_request_for_a_person_escalates(bot: RunningBot) -> None:
    # The bot's own words follow the user's Slack locale (en-US in the fake Slack).
    event = message_event(channel="CZHESC", kind="app_mention", text=f"<@{BOT_USER_ID}> 转人工")
    bot.post_event(event)
    bot.slack.wait_for(
        lambda: any("asked for a person" in t for t in _thread_texts(bot, "CZHESC", event["ts"]))
    )


def test_slash_command_escalates_the_latest_thread_or_explains(bot: RunningBot) -> None:
    def command(channel: str, user: str) -> httpx.Response:
        body = urlencode(
            {
                "command": "/escalate",
                "text": "",
                "team_id": TEAM_ID,
                "channel_id": channel,
                "user_id": user,
                "response_url": f"{bot.slack_url}/respond/hook1",
                "trigger_id": "t3",
                "api_app_id": "A0TEST001",
                "token": "legacy",
            }
        ).encode()
        headers = signed_headers(SIGNING_SECRET, body) | {
            "Content-Type": "application/x-www-form-urlencoded"
        }
        return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)

    assert command("CNOTHREAD", "UNOBODY1").status_code == 200
    bot.slack.wait_for(lambda: bot.slack.responses)
    assert "message shortcut" in bot.slack.responses[-1]["text"]

    asked = _ask(bot, "CCMD", "build fails with exit code 137", user="UCAROL01")
    assert command("CCMD", "UCAROL01").status_code == 200
    bot.slack.wait_for(
        lambda: any("asked for a person" in t for t in _thread_texts(bot, "CCMD", asked["ts"]))
    )


def test_escalation_can_open_a_zendesk_ticket_with_transcript_and_screenshots(
    tiny_engine: TransformersEngine, redis_url: str
) -> None:
    helpdesk = FakeHelpdesk()
    with (
        ServerThread(helpdesk.app) as zendesk,
        run_bot(
            tiny_engine,
            redis_url,
            escalation_channel=DESK,
            escalation_tickets=True,
            zendesk_url=zendesk.url,
            zendesk_email="agent@acme.test",
            zendesk_api_token="zd-token",
        ) as running,
    ):
        running.slack.add_file("ticket.png", render_error_screenshot())
        first = _ask(
            running,
            "CTICKET",
            "deploy fails with exit code 137",
            files=[file_object("ticket.png", running.slack_url)],
        )
        running.post_event(
            message_event(
                channel="CTICKET",
                kind="app_mention",
                thread_ts=first["ts"],
                text=f"<@{BOT_USER_ID}> please get me a human",
            )
        )
        running.slack.wait_for(lambda: helpdesk.tickets)
        [ticket] = helpdesk.tickets
        comment = ticket["ticket"]["comment"]
        assert comment["public"] is False and "deploy fails with exit code 137" in comment["body"]
        assert comment["uploads"] == ["upload-token-1"]
        assert helpdesk.uploads == [("ticket.png", render_error_screenshot())]
        running.slack.wait_for(
            lambda: any(
                "ticket 9001" in c.args["text"]
                for c in running.slack.calls("chat.postMessage")
                if c.args["channel"] == DESK
            )
        )


def test_message_shortcut_escalates_the_thread_it_was_used_in(bot: RunningBot) -> None:
    asked = _ask(bot, "CSHORT", "kubectl says pods is forbidden")
    message = {"type": "message", "ts": asked["ts"], "text": asked["text"], "user": "UALICE01"}
    response = _interact(
        bot,
        {
            "type": "message_action",
            "callback_id": "escalate_message",
            "trigger_id": "t9",
            "team": {"id": TEAM_ID},
            "channel": {"id": "CSHORT"},
            "user": {"id": "UAGENT02"},
            "message": message,
            "message_ts": asked["ts"],
            "response_url": f"{bot.slack_url}/respond/s",
            "token": "legacy",
            "api_app_id": "A0TEST001",
        },
    )
    assert response.status_code == 200
    bot.slack.wait_for(
        lambda: any(
            "<@UAGENT02> asked for a person" in t for t in _thread_texts(bot, "CSHORT", asked["ts"])
        )
    )


def _ephemerals_to(bot: RunningBot, user: str) -> list[str]:
    return [c.args["text"] for c in bot.slack.calls("chat.postEphemeral") if c.args["user"] == user]


def _escalated_case(
    bot: RunningBot,
    channel: str,
    question: str = "deploy fails with exit code 137",
    *,
    timeout: float = 30.0,
) -> tuple[dict[str, Any], str]:
    """A thread the bot answered, escalated with the 🙋 button: (its desk post, its value)."""
    asked = _ask(bot, channel, question)
    answer = _answer_message(bot, channel, asked["ts"])
    _click(bot, "escalate", asked["ts"], channel=channel, message=answer, user="UALICE01")
    desk = bot.slack.wait_for(
        lambda: [
            c
            for c in bot.slack.calls("chat.postMessage")
            if c.args["channel"] == DESK and f"archives/{channel}/" in c.args["text"]
        ],
        timeout=timeout,
    )
    message = {"ts": desk[0].args["_ts"], "text": desk[0].args["text"]}
    return message, json.dumps([TEAM_ID, channel, asked["ts"]])


def test_only_the_on_call_group_takes_and_resolves_and_only_in_the_desk(bot: RunningBot) -> None:
    desk_message, value = _escalated_case(bot, "CGUARD")
    thread_ts = json.loads(value)[2]

    _click(bot, "escalation:take", value, channel=DESK, message=desk_message, user="UOUTSIDE")
    _click(bot, "escalation:resolve", value, channel=DESK, message=desk_message, user="UOUTSIDE")
    bot.slack.wait_for(lambda: len(_ephemerals_to(bot, "UOUTSIDE")) >= 2)
    assert _ephemerals_to(bot, "UOUTSIDE") == [say(Message.ESCALATION_NOT_ON_CALL)] * 2
    # An on-call member, but the button pressed outside the escalation channel.
    _click(bot, "escalation:take", value, channel="CGUARD", message=desk_message, user="UAGENT01")
    bot.slack.wait_for(lambda: _ephemerals_to(bot, "UAGENT01"))
    assert _ephemerals_to(bot, "UAGENT01") == [say(Message.ESCALATION_WRONG_CHANNEL)]
    time.sleep(QUIET_PERIOD)
    assert not any("looking" in t for t in _thread_texts(bot, "CGUARD", thread_ts)), "not taken"
    assert not [c for c in bot.slack.calls("views.open") if value in json.dumps(c.args)], (
        "no resolution modal for an outsider"
    )
    # The members were read once and kept (usergroups.users.list is Tier 2).
    assert len(bot.slack.calls("usergroups.users.list")) == 1


def _resolution(user: str, value: str, text: str = "x | sh") -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "api_app_id": "A0TEST001",
        "token": "legacy",
        "trigger_id": "t2",
        "view": {
            "id": "V0001",
            "type": "modal",
            "callback_id": "escalation:resolution",
            "private_metadata": value,
            "state": {
                "values": {"resolution": {"text": {"type": "plain_text_input", "value": text}}}
            },
        },
    }


def test_a_resolution_for_a_thread_never_escalated_is_refused_in_the_modal(
    bot: RunningBot,
) -> None:
    asked = _ask(bot, "CNEVER", "npm ERR! code ERESOLVE")
    value = json.dumps([TEAM_ID, "CNEVER", asked["ts"]])
    response = _interact(bot, _resolution("UAGENT01", value))
    assert response.status_code == 200
    assert response.json() == {
        "response_action": "errors",
        "errors": {"resolution": say(Message.ESCALATION_NOT_OPEN)},
    }
    outsider = _interact(bot, _resolution("UOUTSIDE", value))
    assert outsider.json()["errors"] == {"resolution": say(Message.ESCALATION_NOT_ON_CALL)}
    time.sleep(QUIET_PERIOD)
    assert not any("Resolved by" in t for t in _thread_texts(bot, "CNEVER", asked["ts"]))


def _shortcut(bot: RunningBot, channel: str, message: dict[str, Any], user: str) -> httpx.Response:
    return _interact(
        bot,
        {
            "type": "message_action",
            "callback_id": "escalate_message",
            "trigger_id": "t9",
            "team": {"id": TEAM_ID},
            "channel": {"id": channel},
            "user": {"id": user},
            "message": message,
            "message_ts": message["ts"],
            "response_url": f"{bot.slack_url}/respond/s-{user}",
            "token": "legacy",
            "api_app_id": "A0TEST001",
        },
    )


def test_the_shortcut_escalates_only_threads_the_bot_answered_and_only_so_often(
    bot: RunningBot,
) -> None:
    before = len(bot.slack.responses)
    stranger = {"type": "message", "ts": "1700000099.000001", "text": "lunch?", "user": "UBOB0001"}
    assert _shortcut(bot, "CLUNCH", stranger, "UDAVE001").status_code == 200
    [refusal] = bot.slack.wait_for(
        lambda: bot.slack.responses[before:] if len(bot.slack.responses) > before else None
    )
    assert refusal["text"] == say(Message.ESCALATION_NOT_BOT_THREAD)
    assert refusal["response_type"] == "ephemeral"
    assert not [
        c for c in bot.slack.calls("chat.postMessage") if "archives/CLUNCH/" in c.args["text"]
    ], "on-call was not paged"

    asked = _ask(bot, "CLIMIT", "pip install fails with a hash mismatch")
    message = {"type": "message", "ts": asked["ts"], "text": asked["text"], "user": "UALICE01"}
    before = len(bot.slack.responses)
    for _ in range(SHORTCUT_LIMIT + 1):
        assert _shortcut(bot, "CLIMIT", message, "UDAVE001").status_code == 200
    [limited] = bot.slack.wait_for(
        lambda: bot.slack.responses[before:] if len(bot.slack.responses) > before else None
    )
    assert limited["text"] == say(Message.ESCALATION_RATE_LIMITED)


def _escalate_and_resolve(
    bot: RunningBot, channel: str, question: str, fix: str, *, timeout: float = 30.0
) -> None:
    """Asks in `channel`, escalates, and has the on-call agent resolve it with `fix`."""
    desk_message, value = _escalated_case(bot, channel, question, timeout=timeout)
    _click(bot, "escalation:take", value, channel=DESK, message=desk_message, user="UAGENT01")
    _click(bot, "escalation:resolve", value, channel=DESK, message=desk_message, user="UAGENT01")
    bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("views.open") if value in str(c.args["view"])]
    )
    _interact(bot, _resolution("UAGENT01", value, fix))
    bot.slack.wait_for(
        lambda: any(
            "Resolved by <@UAGENT01>" in t
            for t in _thread_texts(bot, channel, json.loads(value)[2])
        ),
        timeout=timeout,
    )


def test_a_private_channels_resolution_never_reaches_another_conversation(
    bot: RunningBot,
) -> None:
    bot.slack.channel_names["CSECRET"] = "payroll"
    bot.slack.private_channels.add("CSECRET")
    fix = "payctl unlock --ledger 2026 --force"
    _escalate_and_resolve(bot, "CSECRET", "PAY-7781 ledger locked for payroll run", fix)

    # Askers of their own: the module's other tests keep UALICE01 near the per-user limit.
    elsewhere = _ask(bot, "CPUBLIC", "PAY-7781 ledger locked during payroll", user="UPUB0001")
    [answer_text] = bot.answers_in("CPUBLIC", elsewhere["ts"])
    assert "past resolution" not in answer_text
    assert fix not in _prompt_for(bot, "during payroll"), "it stays out of another channel"

    again = _ask(bot, "CSECRET", "PAY-7781 ledger locked for payroll run again", user="UPAY0001")
    bot.answers_in("CSECRET", again["ts"])
    assert fix in _prompt_for(bot, "for payroll run again"), "its own channel still learns"


def _prompt_for(bot: RunningBot, question: str) -> str:
    """The last prompt the model was given for a question containing `question`."""
    texts = [
        "".join(part.text for part in request.messages[-1].parts if isinstance(part, TextPart))
        for request in reversed(bot.engine.requests)
    ]
    [prompt, *_] = [text for text in texts if question in text]
    return prompt


@pytest.fixture(scope="module")
def indexed_bot(
    tiny_engine: TransformersEngine, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    """The desk with a knowledge index: resolutions are one more source of it."""
    root = tmp_path_factory.mktemp("indexed")
    (root / "runbooks").mkdir()
    (root / "runbooks" / "vault.md").write_text("# Vault\n\n## ACME-4012\n\nRenew the token.\n")
    config = root / "knowledge.toml"
    config.write_text('[[sources]]\nname = "runbooks"\ntype = "folder"\npath = "runbooks"\n')
    slack = FakeSlack(bot_token=BOT_TOKEN, usergroups={ONCALL: ["UAGENT01"]})
    with run_bot(
        tiny_engine,
        redis_url,
        slack=slack,
        escalation_channel=DESK,
        escalation_usergroup=ONCALL,
        knowledge_config=config,
        knowledge_index=root / "index.db",
        embedding_model="none",
        knowledge_sync_minutes=0,
    ) as running:
        yield running


def test_with_a_knowledge_index_a_private_resolution_is_a_passage_only_in_its_channel(
    indexed_bot: RunningBot,
) -> None:
    bot = indexed_bot
    bot.slack.channel_names["CVAULT1"] = "payroll"
    bot.slack.private_channels.add("CVAULT1")
    fix = "payctl unlock --ledger 2027 --force"
    # The desk summary is a model run, slower on a loaded machine than the default wait.
    _escalate_and_resolve(
        bot, "CVAULT1", "PAY-7790 ledger locked for payroll run", fix, timeout=120.0
    )

    # No sync ran since: the resolution reached the index the moment it was made.
    elsewhere = _ask(bot, "CPUBLIC", "PAY-7790 ledger locked during payroll", user="UPUB0002")
    bot.answers_in("CPUBLIC", elsewhere["ts"])
    assert fix not in _prompt_for(bot, "during payroll"), "it stays out of another channel"

    again = _ask(bot, "CVAULT1", "PAY-7790 ledger locked for payroll run again", user="UPAY0002")
    [answer] = bot.answers_in("CVAULT1", again["ts"])
    prompt = _prompt_for(bot, "for payroll run again")
    assert fix in prompt.split("<reference_material>", 1)[1], "a passage in its own channel"
    sources = answer.split("Sources:", 1)[1]
    assert "Past resolution " in sources and "PAY-7790 ledger locked for payroll run" in sources
