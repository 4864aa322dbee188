"""The feedback buttons: store the verdict, count it, thank the user in the thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.feedback import FeedbackStore, Verdict
from bot.conversation.turns import ThreadKey
from bot.messages import Message, detect_language, say
from bot.observability import catalogue
from bot.observability.metrics import Metrics
from handlers.slack.blocks import FEEDBACK_ACTION_PREFIX

log = logging.getLogger(__name__)

_THANKS = {Verdict.SOLVED: Message.THANKS_SOLVED, Verdict.NOT_HELPFUL: Message.THANKS_NOT_HELPFUL}


def register_feedback(app: AsyncApp, store: FeedbackStore, metrics: Metrics) -> None:
    """Handle clicks on the buttons made by `handlers.slack.blocks.feedback_actions`."""

    async def record_feedback(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        verdict = Verdict(action["action_id"].removeprefix(FEEDBACK_ACTION_PREFIX))
        channel = body["channel"]["id"]
        thread_ts = action.get("value") or body["message"].get("thread_ts") or body["message"]["ts"]
        team = (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id", "")
        user = body["user"]["id"]
        await store.record(ThreadKey.for_slack(team, channel, thread_ts), user, verdict)
        metrics.count(catalogue.FEEDBACK, verdict=verdict.value)
        language = detect_language(body["message"].get("text", ""))
        await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=say(_THANKS[verdict], language, user=user)
        )

    for verdict in Verdict:
        app.action(FEEDBACK_ACTION_PREFIX + verdict.value)(record_feedback)
