"""Read Slack event payloads: which messages are ours to answer, their thread and files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.conversation.turns import AttachmentRef, ThreadKey
from bot.messages import Message

# Subtypes that are a person saying something; every other subtype (edits,
# deletions, joins, bot posts) is not a question for the bot.
_ANSWERABLE_SUBTYPES = {None, "file_share", "thread_broadcast"}
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def is_person_message(event: Mapping[str, Any]) -> bool:
    """A new message written by a person (not a bot, an edit or a deletion)."""
    return (
        event.get("subtype") in _ANSWERABLE_SUBTYPES
        and not event.get("bot_id")
        and not event.get("bot_profile")
        and bool(event.get("user"))
    )


def is_direct_message(event: Mapping[str, Any]) -> bool:
    return event.get("channel_type") == "im"


def is_thread_reply(event: Mapping[str, Any]) -> bool:
    thread_ts = event.get("thread_ts")
    return bool(thread_ts) and thread_ts != event.get("ts")


def thread_of(event: Mapping[str, Any], team_id: str) -> ThreadKey:
    """The thread the answer goes to: the message's thread, or a new one under it."""
    return ThreadKey.for_slack(
        team=team_id,
        channel=str(event["channel"]),
        thread_ts=str(event.get("thread_ts") or event["ts"]),
    )


def mentions(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """Whether the message mentions the bot (then app_mention answers it)."""
    return bool(bot_user_id) and f"<@{bot_user_id}" in str(event.get("text") or "")


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """Remove the bot's own mention; other mentions stay as the user wrote them."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def attachment_from_file(file: Mapping[str, Any]) -> AttachmentRef:
    """An attachment from a Slack file object; files Slack will not hand out are marked so."""
    name = str(file.get("name") or file.get("title") or file.get("id") or "file")
    url = str(file.get("url_private_download") or file.get("url_private") or "")
    hidden = (
        file.get("mode") in {"hidden_by_limit", "tombstone"}
        or file.get("file_access") == "check_file_info"
    )
    size = file.get("size")
    return AttachmentRef(
        filename=name,
        url=url,
        media_type=str(file.get("mimetype") or ""),
        size=int(size) if isinstance(size, int) else None,
        unavailable=Message.REASON_NOT_SHARED if hidden or not url else None,
    )
