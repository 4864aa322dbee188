"""The Slack listeners: which events get an answer. Each one returns at once;
the answer runs after Bolt has acknowledged the event."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.answering import SlackAnswerer
from handlers.slack.events import (
    is_direct_message,
    is_person_message,
    is_thread_reply,
    thread_of,
    turn_from_event,
)

log = logging.getLogger(__name__)


def _team_id(context: AsyncBoltContext, body: dict[str, Any]) -> str:
    return str(context.team_id or body.get("team_id") or "")


def register_listeners(app: AsyncApp, answerer: SlackAnswerer) -> None:
    """Answer mentions in channels, direct messages, and replies in threads the bot is in."""

    @app.event("app_mention")
    async def answer_mentions(
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        if not is_person_message(event):
            return
        turn = turn_from_event(
            event, team_id=_team_id(context, body), bot_user_id=context.bot_user_id
        )
        answerer.submit(turn, client)

    @app.event("message")
    async def answer_direct_and_thread_messages(
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        if not is_person_message(event):
            return  # edits, deletions, bot posts and joins are not questions
        team_id = _team_id(context, body)
        following = is_thread_reply(event) and await answerer.diagnoser.knows_thread(
            thread_of(event, team_id)
        )
        if is_direct_message(event) or following:
            turn = turn_from_event(event, team_id=team_id, bot_user_id=context.bot_user_id)
            answerer.submit(turn, client)

    @app.error
    async def log_listener_errors(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed on %s: %r", body.get("event_id", "?"), error)
