"""The escalation triggers and the agents' buttons and modal, as Bolt listeners.

Triggers: the 🙋 button under an answer, the "Escalate to support" message
shortcut, `/escalate` (Slack allows slash commands only outside threads, so it
escalates the user's latest thread with the bot in that channel), and asking
for a person in words (see `handlers.slack.answering`).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.turns import ThreadKey
from bot.messages import Language, Message, detect_language, say
from handlers.slack.blocks import ESCALATE_ACTION
from handlers.slack.escalation.views import (
    RESOLVE_ACTION,
    RESOLVE_VIEW,
    TAKE_ACTION,
    resolution_modal,
    thread_from_value,
)
from handlers.slack.escalation.workflow import EscalationDesk

log = logging.getLogger(__name__)

# https://docs.slack.dev/reference/methods/views.open
_LOST_TRIGGER = {"expired_trigger_id", "exchanged_trigger_id"}

SHORTCUT = "escalate_message"


def _message_thread(body: dict[str, Any]) -> ThreadKey:
    """The thread of the message an interaction (button, shortcut) was made on."""
    message = body["message"]
    return ThreadKey.for_slack(
        body["team"]["id"], body["channel"]["id"], message.get("thread_ts") or message["ts"]
    )


async def _refuse(
    client: AsyncWebClient,
    body: dict[str, Any],
    message: Message,
    *,
    language: Language = Language.ENGLISH,
    respond: AsyncRespond | None = None,
) -> None:
    """A polite refusal the person alone sees: through the payload's response_url when it has
    one (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses),
    else as an ephemeral message in the channel the interaction came from."""
    text = say(message, language)
    log.info("escalation refused for %s: %s", (body.get("user") or {}).get("id"), message.value)
    if respond is not None and body.get("response_url"):
        await respond(text=text, response_type="ephemeral", replace_original=False)
        return
    channel = (body.get("channel") or {}).get("id")
    if channel:
        try:
            await client.chat_postEphemeral(
                channel=str(channel), user=str(body["user"]["id"]), text=text
            )
        except SlackApiError as error:
            log.info("could not post the refusal: %s", error.response.get("error"))


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
            channel=thread.space, ts=message["ts"], text=message.get("text", ""), blocks=blocks
        )
        await _escalate_message(desk, client, body)

    @app.shortcut(SHORTCUT)
    async def escalate_from_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        language = detect_language(str(body["message"].get("text") or ""))
        refusal = await desk.guard.refuse_shortcut(
            thread=_message_thread(body), user=str(body["user"]["id"])
        )
        if refusal is not None:
            await _refuse(client, body, refusal, language=language, respond=respond)
            return
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
        await desk.escalate(
            client, ThreadKey.for_slack(team, channel, thread_ts), by=user, language=language
        )

    async def agent_refusal(client: AsyncWebClient, body: dict[str, Any]) -> Message | None:
        return await desk.guard.refuse_agent(
            client,
            thread=thread_from_value(body["actions"][0]["value"]),
            user=str(body["user"]["id"]),
            channel=str((body.get("channel") or {}).get("id") or ""),
        )

    @app.action(TAKE_ACTION)
    async def take_escalation(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        if refusal := await agent_refusal(client, body):
            await _refuse(client, body, refusal, respond=respond)
            return
        await desk.take(client, thread_from_value(body["actions"][0]["value"]), body["user"]["id"])

    @app.action(RESOLVE_ACTION)
    async def ask_for_resolution(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        if refusal := await agent_refusal(client, body):
            await _refuse(client, body, refusal, respond=respond)
            return
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
        view = body["view"]
        thread = thread_from_value(view["private_metadata"])
        # A view submission carries no channel; the person and the thread's state are checked
        # again (the state may have changed since the modal opened), before the ack, so the
        # refusal shows in the modal itself ("response_action": "errors",
        # https://docs.slack.dev/surfaces/modals#displaying_errors). The members were just
        # read for the button that opened the modal, so this is a cache hit within 3 s.
        refusal = await desk.guard.refuse_agent(
            client, thread=thread, user=str(body["user"]["id"]), channel=None
        )
        if refusal is not None:
            log.info("resolution refused for %s: %s", body["user"]["id"], refusal.value)
            await ack(response_action="errors", errors={"resolution": say(refusal)})
            return
        await ack()
        text = view["state"]["values"]["resolution"]["text"]["value"] or ""
        await desk.resolve(client, thread, body["user"]["id"], text.strip())
