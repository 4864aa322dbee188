"""The last listeners: every Slack delivery no other listener took is acknowledged.

Bolt answers a request no listener matches with `404 {"error": "unhandled request"}`.
Slack retries an event that is not answered 2xx within 3 seconds
(https://docs.slack.dev/apis/events-api/#responding), and shows the user an error for an
interaction or command that is not acknowledged within 3 seconds
(https://docs.slack.dev/interactivity/handling-user-interaction#acknowledgment_response;
slash commands: https://docs.slack.dev/interactivity/implementing-slash-commands,
"dispatch_failed"). So these listeners are registered after all the others (Bolt runs the
first listener whose matcher matches, in the order they were added), ack at once, log each
kind once, and tell the person something true:

- `/escalate` and the "Escalate to support" shortcut while escalation is off: that it is not
  set up in this workspace (ephemeral);
- a button from an older message (its action is no longer one the bot knows): that the
  button is no longer active (ephemeral, through the payload's `response_url`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Message, detect_language, say

log = logging.getLogger(__name__)

ESCALATE_COMMAND = "/escalate"
ESCALATE_SHORTCUT = "escalate_message"
_ANYTHING = re.compile(r".*", re.DOTALL)
_LOGGED_KINDS = 1_000  # distinct (type, id) pairs logged; past it, nothing more is logged


class _LogOnce:
    """Logs each unhandled kind of delivery once, so a busy workspace cannot flood the log."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def __call__(self, kind: str, name: str) -> None:
        key = (kind, name[:100])
        if key in self._seen or len(self._seen) >= _LOGGED_KINDS:
            return
        self._seen.add(key)
        log.info("no listener for Slack %s %r: acknowledged and ignored", *key)


def register_unhandled(app: AsyncApp, *, escalation: bool) -> None:
    """Register the catch-all listeners; call this after every other listener.

    Args:
        app: the Bolt app.
        escalation: whether the escalation listeners are registered (ESCALATION_CHANNEL set).
    """
    seen = _LogOnce()

    @app.command(_ANYTHING)
    async def unknown_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        name = str(command.get("command") or "")
        language = detect_language(str(command.get("text") or ""))
        seen("command", name)
        if name == ESCALATE_COMMAND and not escalation:
            # A slash command's ack text is shown to the user only (ephemeral by default).
            await ack(text=say(Message.ESCALATION_NOT_CONFIGURED, language))
            return
        await ack(text=say(Message.COMMAND_NOT_AVAILABLE, language))

    @app.shortcut(_ANYTHING)
    async def unknown_shortcut(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        callback = str(body.get("callback_id") or "")
        seen(str(body.get("type") or "shortcut"), callback)
        language = detect_language(str((body.get("message") or {}).get("text") or ""))
        message = (
            Message.ESCALATION_NOT_CONFIGURED
            if callback == ESCALATE_SHORTCUT and not escalation
            else Message.BUTTON_NO_LONGER_ACTIVE
        )
        await _tell(body, respond, client, say(message, language))

    @app.action(_ANYTHING)
    async def unknown_action(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        seen(str(body.get("type") or "action"), str(actions[0].get("action_id") or ""))
        language = detect_language(str((body.get("message") or {}).get("text") or ""))
        await _tell(body, respond, client, say(Message.BUTTON_NO_LONGER_ACTIVE, language))

    @app.view(_ANYTHING)
    async def unknown_view(ack: AsyncAck, body: dict[str, Any]) -> None:
        # An empty ack closes the modal (views page, "Responding to view_submission").
        await ack()
        seen(str(body.get("type") or "view"), str((body.get("view") or {}).get("callback_id")))

    @app.view_closed(_ANYTHING)
    async def unknown_view_closed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen("view_closed", str((body.get("view") or {}).get("callback_id")))

    @app.options(_ANYTHING)
    async def unknown_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack(options=[])
        seen(str(body.get("type") or "options"), str(body.get("action_id") or ""))

    @app.event(_ANYTHING)
    async def unknown_event(event: dict[str, Any]) -> None:
        # Bolt acks events itself once a listener matches.
        seen("event", str(event.get("type") or ""))


async def _tell(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, text: str
) -> None:
    """An ephemeral sentence for the person who pressed or chose something."""
    if body.get("response_url"):
        # https://docs.slack.dev/interactivity/handling-user-interaction#message_responses:
        # an ephemeral response that leaves the original message as it is.
        await respond(text=text, response_type="ephemeral", replace_original=False)
        return
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    user = (body.get("user") or {}).get("id")
    if not channel or not user:
        return  # a global shortcut carries neither; the log has it
    try:
        await client.chat_postEphemeral(channel=str(channel), user=str(user), text=text)
    except SlackApiError as error:
        log.info("could not answer an unhandled interaction: %s", error.response.get("error"))
