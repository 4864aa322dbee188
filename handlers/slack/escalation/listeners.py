"""The escalation triggers and the agents' buttons and modal, as Bolt listeners.

Triggers: the 🙋 button under an answer, the "Escalate to support" message
shortcut, `/escalate` (Slack allows slash commands only outside threads, so it
escalates the user's latest thread with the bot in that channel), and asking
for a person in words (see `handlers.slack.answering`).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.turns import ThreadKey
from bot.messages import Message, detect_language, say
from handlers.slack.blocks import ESCALATE_ACTION
from handlers.slack.escalation.views import (
    RESOLVE_ACTION,
    RESOLVE_VIEW,
    TAKE_ACTION,
    resolution_modal,
    thread_from_value,
)
from handlers.slack.escalation.workflow import EscalationDesk

# https://docs.slack.dev/reference/methods/views.open
_LOST_TRIGGER = {"expired_trigger_id", "exchanged_trigger_id"}

SHORTCUT = "escalate_message"


def _message_thread(body: dict[str, Any]) -> ThreadKey:
    """The thread of the message an interaction (button, shortcut) was made on."""
    message = body["message"]
    return ThreadKey(
        body["team"]["id"], body["channel"]["id"], message.get("thread_ts") or message["ts"]
    )


async def _escalate_message(
    desk: EscalationDesk, client: AsyncWebClient, body: dict[str, Any]
) -> None:
    text = body["message"].get("text", "")
    await desk.escalate(
        client, _message_thread(body), by=body["user"]["id"], language=detect_language(text)
    )


def register_escalation(app: AsyncApp, desk: EscalationDesk) -> None:
    """The four triggers, and the agents' buttons and modal."""

    @app.action(ESCALATE_ACTION)
    async def escalate_from_button(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        message = body["message"]
        thread = _message_thread(body)
        # The pressed button disappears: the answer keeps its text and feedback buttons only.
        blocks = [
            {
                **block,
                "elements": [e for e in block["elements"] if e.get("action_id") != ESCALATE_ACTION],
            }
            if block.get("type") == "actions"
            else block
            for block in message.get("blocks", [])
        ]
        await client.chat_update(
            channel=thread.channel, ts=message["ts"], text=message.get("text", ""), blocks=blocks
        )
        await _escalate_message(desk, client, body)

    @app.shortcut(SHORTCUT)
    async def escalate_from_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await _escalate_message(desk, client, body)

    @app.command("/escalate")
    async def escalate_from_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        team, channel, user = command["team_id"], command["channel_id"], command["user_id"]
        language = detect_language(command.get("text", ""))
        thread_ts = await desk.cases.latest_thread(team, channel, user)
        if thread_ts is None:
            await respond(say(Message.NO_THREAD_TO_ESCALATE, language))
            return
        await desk.escalate(client, ThreadKey(team, channel, thread_ts), by=user, language=language)

    @app.action(TAKE_ACTION)
    async def take_escalation(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await desk.take(client, thread_from_value(body["actions"][0]["value"]), body["user"]["id"])

    @app.action(RESOLVE_ACTION)
    async def ask_for_resolution(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        try:
            await client.views_open(
                trigger_id=body["trigger_id"],
                view=resolution_modal(thread_from_value(body["actions"][0]["value"])),
            )
        except SlackApiError as error:
            # views.open: a trigger_id lives 3 seconds and opens one view; a slow round trip
            # loses it. Tell the agent to press again instead of failing silently.
            if error.response.get("error") not in _LOST_TRIGGER:
                raise
            await client.chat_postEphemeral(
                channel=body["channel"]["id"],
                user=body["user"]["id"],
                text=say(Message.PRESS_AGAIN),
            )

    @app.view(RESOLVE_VIEW)
    async def save_resolution(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body["view"]
        text = view["state"]["values"]["resolution"]["text"]["value"] or ""
        await desk.resolve(
            client, thread_from_value(view["private_metadata"]), body["user"]["id"], text.strip()
        )
