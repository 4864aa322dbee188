"""Post a message once: a post whose answer was lost is looked for before it is sent again.

chat.postMessage is not idempotent (https://docs.slack.dev/reference/methods/chat.postMessage):
a request that timed out or got a 5xx may still have posted. Sending it again would
show the user the same message twice, so the thread is read first
(https://docs.slack.dev/reference/methods/conversations.replies) and the post is
repeated only when it is not there.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


def _lost_answer(error: BaseException) -> bool:
    """The request may have reached Slack, but its answer did not come back."""
    if isinstance(error, SlackApiError):
        return int(getattr(error.response, "status_code", 200)) >= 500
    return isinstance(error, (TimeoutError, aiohttp.ClientError))


async def post_once(client: AsyncWebClient, *, channel: str, thread_ts: str, **message: Any) -> str:
    """chat.postMessage into a thread; returns the message ts, posting at most one message.

    Args:
        client: the Web API client.
        channel: the conversation.
        thread_ts: the thread the message goes into.
        message: the other chat.postMessage arguments (`text` is required).
    """
    try:
        response = await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
        return str(response["ts"])
    except (TimeoutError, SlackApiError, aiohttp.ClientError) as error:
        if not _lost_answer(error):
            raise
        log.warning("a post to %s may have landed (%s); reading the thread first", channel, error)
        landed = await _find_post(client, channel, thread_ts, str(message.get("text") or ""))
        if landed is not None:
            return landed
        response = await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
        return str(response["ts"])


async def _find_post(client: AsyncWebClient, channel: str, thread_ts: str, text: str) -> str | None:
    """The ts of the bot's own reply with `text` in the thread, if it is there."""
    identity = await client.auth_test()
    bot_id = identity.get("bot_id")
    response = await client.conversations_replies(channel=channel, ts=thread_ts, limit=200)
    for message in reversed(response.get("messages") or []):
        if message.get("bot_id") == bot_id and message.get("text") == text:
            return str(message["ts"])
    return None
