"""One answer in a Slack thread: working indicator, live status, the answer as it grows.

The answer streams with Slack's `chat.startStream`/`appendStream`/`stopStream`
where the workspace has them; otherwise the placeholder is edited with
`chat.update`, at most once per `update_interval`. Either way the final answer
carries the feedback buttons.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.blocks import answer_blocks
from handlers.slack.chunks import MESSAGE_LIMIT, split_message
from handlers.slack.mrkdwn import markdown_to_mrkdwn

log = logging.getLogger(__name__)

WORKING_REACTION = "eyes"
# One streamed message holds at most this much; a longer answer continues in another.
STREAM_MESSAGE_LIMIT = 11_000
# Errors meaning "this workspace, token or channel cannot stream": fall back to edits.
_NO_STREAMING = {
    "unknown_method",
    "method_not_supported",
    "method_deprecated",
    "not_allowed_token_type",
    "feature_not_enabled",
    "team_not_eligible",
    "channel_type_not_supported",
    "not_supported",
    "missing_scope",
}


class StreamingSupport:
    """Whether to try Slack's streaming methods; turned off for the process on first refusal."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled

    def refuse(self, error: str) -> None:
        if self.enabled:
            log.warning("Slack refused chat.startStream (%s): answers are edited in place", error)
        self.enabled = False


@dataclass(frozen=True)
class ThreadPlace:
    """Where the answer goes and whom it is for (streaming in channels needs the recipient)."""

    channel: str
    thread_ts: str
    message_ts: str
    team_id: str
    user_id: str


class SlackThreadReply:
    """Everything one answer shows in its thread.

    Args:
        client: the Web API client.
        place: channel, thread and question.
        streaming: whether to try the streaming methods.
        update_interval: the least time between two visible updates.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        place: ThreadPlace,
        *,
        streaming: StreamingSupport,
        update_interval: float = 1.0,
    ) -> None:
        self._client = client
        self._place = place
        self._streaming = streaming
        self._update_interval = update_interval
        self._placeholder_ts: str | None = None
        self._last_update = 0.0
        self._reacted = False
        self._stream_ts: str | None = None
        self._streamed = 0  # characters of the answer already in stream messages
        self._stream_start = 0  # where the current stream message begins in the answer

    async def start(self, working_text: str) -> None:
        """Show the user we are on it: a 👀 reaction and a placeholder reply."""
        try:
            await self._client.reactions_add(
                channel=self._place.channel, timestamp=self._place.message_ts, name=WORKING_REACTION
            )
            self._reacted = True
        except SlackApiError as error:  # a missing reactions:write scope must not stop the answer
            log.warning("could not add the working reaction: %s", error.response.get("error"))
        self._placeholder_ts = await self._post(f"_{working_text}_")
        self._last_update = time.monotonic()

    async def status(self, text: str) -> None:
        """Replace the placeholder's status line (while no answer text is shown yet)."""
        if self._stream_ts is None and self._streamed == 0:
            await self._edit(f"_{text}_")

    async def progress(self, markdown_so_far: str, *, force: bool = False) -> None:
        """Show the answer so far, unless the last update was too recent."""
        if not force and time.monotonic() - self._last_update < self._update_interval:
            return
        if self._streaming.enabled and await self._stream(markdown_so_far):
            return
        preview = markdown_to_mrkdwn(markdown_so_far)
        if preview.count("```") % 2:
            preview += "\n```"
        if len(preview) > MESSAGE_LIMIT:
            preview = split_message(preview)[0]
        await self._edit(preview + " …")

    async def finish(self, markdown: str, *, actions: dict[str, Any] | None = None) -> None:
        """Show the whole answer, with `actions` (the feedback buttons) under it."""
        if self._streaming.enabled and await self._stream(markdown):
            assert self._stream_ts is not None
            await self._client.chat_stopStream(
                channel=self._place.channel,
                ts=self._stream_ts,
                blocks=[actions] if actions else None,
            )
        else:
            await self._finish_by_editing(markdown, actions)
        await self._clear_reaction()

    async def broke_off(self, markdown_so_far: str, warning: str) -> None:
        """The answer stopped midway: keep what was shown and say why it is incomplete."""
        text = (
            f"{markdown_so_far.rstrip()}\n\n:warning: {warning}"
            if markdown_so_far
            else (f":warning: {warning}")
        )
        if self._stream_ts is not None:
            await self._stream(text)
            await self._client.chat_stopStream(channel=self._place.channel, ts=self._stream_ts)
            await self._clear_reaction()
        else:
            await self._finish_by_editing(text, None)
            await self._clear_reaction()

    async def fail(self, text: str) -> None:
        """Say the answer failed, in the placeholder (or a new reply if there is none)."""
        if self._stream_ts is not None:
            await self.broke_off("", text)
            return
        await self._edit(f":warning: {text}")
        await self._clear_reaction()

    async def _finish_by_editing(self, markdown: str, actions: dict[str, Any] | None) -> None:
        parts = split_message(markdown_to_mrkdwn(markdown)) or [markdown]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            blocks = answer_blocks(part, actions) if last and actions else None
            if index == 0:
                await self._edit(part, blocks=blocks)
            else:
                await self._post(part, blocks=blocks)

    async def _stream(self, markdown: str) -> bool:
        """Append what is new in `markdown` to the stream; False if Slack cannot stream here."""
        delta = markdown[self._streamed :]
        if not delta:
            return True
        if (
            self._stream_ts is not None
            and len(markdown) - self._stream_start > STREAM_MESSAGE_LIMIT
        ):
            await self._client.chat_stopStream(channel=self._place.channel, ts=self._stream_ts)
            self._stream_ts = None
            self._stream_start = self._streamed
        if self._stream_ts is None:
            try:
                response = await self._client.chat_startStream(
                    channel=self._place.channel,
                    thread_ts=self._place.thread_ts,
                    markdown_text=delta,
                    recipient_team_id=self._place.team_id,
                    recipient_user_id=self._place.user_id,
                )
            except SlackApiError as error:
                code = str(error.response.get("error", ""))
                if code not in _NO_STREAMING or self._streamed:
                    raise
                self._streaming.refuse(code)
                return False
            self._stream_ts = str(response["ts"])
            await self._drop_placeholder()
        else:
            await self._client.chat_appendStream(
                channel=self._place.channel, ts=self._stream_ts, markdown_text=delta
            )
        self._streamed = len(markdown)
        self._last_update = time.monotonic()
        return True

    async def _drop_placeholder(self) -> None:
        if self._placeholder_ts is None:
            return
        ts, self._placeholder_ts = self._placeholder_ts, None
        try:
            await self._client.chat_delete(channel=self._place.channel, ts=ts)
        except SlackApiError as error:
            log.warning("could not remove the placeholder: %s", error.response.get("error"))

    async def _edit(self, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
        if self._placeholder_ts is None:
            self._placeholder_ts = await self._post(text, blocks=blocks)
        else:
            await self._client.chat_update(
                channel=self._place.channel, ts=self._placeholder_ts, text=text, blocks=blocks
            )
        self._last_update = time.monotonic()

    async def _post(self, text: str, *, blocks: list[dict[str, Any]] | None = None) -> str:
        # No unfurling: a link in an answer must not make Slack fetch anything.
        response = await self._client.chat_postMessage(
            channel=self._place.channel,
            thread_ts=self._place.thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    async def _clear_reaction(self) -> None:
        if not self._reacted:
            return
        self._reacted = False
        try:
            await self._client.reactions_remove(
                channel=self._place.channel, timestamp=self._place.message_ts, name=WORKING_REACTION
            )
        except SlackApiError as error:
            log.warning("could not remove the working reaction: %s", error.response.get("error"))
