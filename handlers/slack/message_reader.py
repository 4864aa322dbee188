"""A Slack message event as the `Turn` the bot answers: what the user saw, and every file.

The text comes from the message's `rich_text` blocks when it has them (code stays
code, line breaks stay), else from its mrkdwn `text`, decoded. Messages the user
shared into the thread (Slack's message attachments with `is_share`, as in
https://docs.slack.dev/messaging/formatting-message-text#attachments) add their
text, and their files join the message's own, in order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.turns import Turn
from handlers.slack.events import attachment_from_file, thread_of
from handlers.slack.markup import (
    Directory,
    decode_mrkdwn,
    ids_in_blocks,
    ids_in_text,
    render_rich_text,
    rich_text_blocks,
)
from handlers.slack.names import SlackNames


def shared_messages(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The messages shared (forwarded) into this one, in order."""
    return [
        a
        for a in event.get("attachments") or ()
        if isinstance(a, Mapping) and (a.get("is_share") or a.get("is_msg_unfurl"))
    ]


def _shared_blocks(share: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    blocks: list[Mapping[str, Any]] = []
    for entry in share.get("message_blocks") or ():
        message = entry.get("message") if isinstance(entry, Mapping) else None
        if isinstance(message, Mapping):
            blocks += rich_text_blocks(message.get("blocks") or ())
    return blocks


class SlackMessageReader:
    """Reads message and app_mention events into `Turn`s, looking names up as needed.

    Args:
        names: the remembered user and channel names (one per app).
    """

    def __init__(self, names: SlackNames | None = None) -> None:
        self._names = names or SlackNames()

    async def turn(
        self,
        event: Mapping[str, Any],
        *,
        team_id: str,
        bot_user_id: str | None,
        client: AsyncWebClient,
    ) -> Turn:
        """The `Turn` a message asks the bot to answer."""
        shares = shared_messages(event)
        directory = await self._directory(event, shares, client)
        text = self._text(event, directory, bot_user_id)
        sections = [text] if text else []
        sections += [_shared_section(share, directory) for share in shares]
        files = [f for f in event.get("files") or () if isinstance(f, Mapping)]
        for share in shares:
            files += [f for f in share.get("files") or () if isinstance(f, Mapping)]
        return Turn(
            thread=thread_of(event, team_id),
            user_id=str(event.get("user") or ""),
            text="\n\n".join(sections),
            message_ts=str(event["ts"]),
            attachments=tuple(attachment_from_file(f) for f in files),
        )

    async def _directory(
        self,
        event: Mapping[str, Any],
        shares: list[Mapping[str, Any]],
        client: AsyncWebClient,
    ) -> Directory:
        users: set[str] = set()
        channels: set[str] = set()
        sources = [(rich_text_blocks(event.get("blocks") or ()), str(event.get("text") or ""))]
        shared_channels: set[str] = set()
        shared_sources = []
        for share in shares:
            shared_sources.append((_shared_blocks(share), str(share.get("text") or "")))
            if share.get("author_id"):
                users.add(str(share["author_id"]))
            if share.get("channel_id") and not share.get("channel_name"):
                shared_channels.add(str(share["channel_id"]))
        # A share's channel is named by the share itself (its channel_name), or else only when
        # Slack says the channel is public: the original may sit in a private channel the
        # asker is not in, whose name (and the channels it mentions) must not reach here.
        for source, shared in [(s, False) for s in sources] + [(s, True) for s in shared_sources]:
            blocks, text = source
            if blocks:
                found_users, found_channels, _ = ids_in_blocks(blocks)
            else:
                found_users, found_channels = ids_in_text(text)
            users |= found_users
            (shared_channels if shared else channels).update(found_channels)
        # Anyone can type `<#C…>` with any id, and the bot's token sees the private channels
        # it is in: a channel the asker mentions is named freely only when it is the
        # conversation asked in; any other only when Slack says it is public.
        here = {str(event.get("channel") or "")}
        shared_channels |= channels - here
        channels &= here
        return await self._names.directory(
            client, users=users, channels=channels, public_channels=shared_channels
        )

    @staticmethod
    def _text(event: Mapping[str, Any], names: Directory, bot_user_id: str | None) -> str:
        blocks = rich_text_blocks(event.get("blocks") or ())
        if blocks:
            return render_rich_text(blocks, names, skip_user=bot_user_id)
        text = str(event.get("text") or "")
        if bot_user_id:  # only the bot's own mention goes; code keeps its indentation
            text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?> ?", "", text)
        return decode_mrkdwn(text, names).strip()


def _shared_section(share: Mapping[str, Any], names: Directory) -> str:
    author_id = str(share.get("author_id") or "")
    author = names.users.get(author_id) or share.get("author_name") or author_id or "someone"
    channel_id = str(share.get("channel_id") or "")
    channel = share.get("channel_name") or names.channels.get(channel_id) or channel_id
    heading = f"shared message from @{author}" + (f" in #{channel}" if channel else "")
    blocks = _shared_blocks(share)
    body = (
        render_rich_text(blocks, names)
        if blocks
        else decode_mrkdwn(str(share.get("text") or share.get("fallback") or ""), names)
    )
    return f"[{heading}]\n{body.strip()}\n[end of shared message]"
