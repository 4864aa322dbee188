"""One answer in a Slack thread: the working indicator, streamed edits, the final text."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.chunks import MESSAGE_LIMIT, split_message
from handlers.slack.mrkdwn import markdown_to_mrkdwn

log = logging.getLogger(__name__)

WORKING_REACTION = "eyes"


class SlackThreadReply:
    """Posts a placeholder in the thread, edits it as the answer grows, then finishes it.

    Edits are throttled to one per `update_interval` seconds (Slack rate-limits
    `chat.update`); parts of a long answer past the first go in follow-up messages.

    Args:
        client: the Web API client.
        channel: where the question was asked.
        thread_ts: the thread to answer in.
        message_ts: the question itself (gets the working reaction).
        update_interval: the least time between two edits of the placeholder.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        message_ts: str,
        update_interval: float = 1.0,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._message_ts = message_ts
        self._update_interval = update_interval
        self._placeholder_ts: str | None = None
        self._last_update = 0.0
        self._reacted = False

    async def start(self, working_text: str) -> None:
        """Show the user we are on it: a 👀 reaction and a placeholder reply."""
        try:
            await self._client.reactions_add(
                channel=self._channel, timestamp=self._message_ts, name=WORKING_REACTION
            )
            self._reacted = True
        except SlackApiError as error:  # a missing reactions:write scope must not stop the answer
            log.warning("could not add the working reaction: %s", error.response.get("error"))
        self._placeholder_ts = await self._post_in_thread(f"_{working_text}_")
        self._last_update = time.monotonic()

    async def progress(self, markdown_so_far: str) -> None:
        """Show the answer so far, unless the last edit was too recent."""
        if time.monotonic() - self._last_update < self._update_interval:
            return
        preview = markdown_to_mrkdwn(markdown_so_far)
        if preview.count("```") % 2:
            preview += "\n```"
        if len(preview) > MESSAGE_LIMIT:
            preview = split_message(preview)[0]
        await self._edit(preview + " …")

    async def finish(self, markdown: str, *, notes: tuple[str, ...] = ()) -> None:
        """Replace the placeholder with the full answer, split into as many messages as needed."""
        text = "\n".join(f"> {markdown_to_mrkdwn(note)}" for note in notes)
        if markdown:
            text = (
                f"{text}\n\n{markdown_to_mrkdwn(markdown)}"
                if text
                else markdown_to_mrkdwn(markdown)
            )
        first, *rest = split_message(text) or [text]
        await self._edit(first)
        for part in rest:
            await self._post_in_thread(part)
        await self._clear_reaction()

    async def fail(self, text: str) -> None:
        """Say the answer failed, in the placeholder (or a new reply if there is none)."""
        await self._edit(f":warning: {text}")
        await self._clear_reaction()

    async def _edit(self, text: str) -> None:
        if self._placeholder_ts is None:
            self._placeholder_ts = await self._post_in_thread(text)
        else:
            await self._client.chat_update(
                channel=self._channel, ts=self._placeholder_ts, text=text
            )
        self._last_update = time.monotonic()

    async def _post_in_thread(self, text: str) -> str:
        # No unfurling: a link in an answer must not make Slack fetch anything.
        response = await self._client.chat_postMessage(
            channel=self._channel,
            thread_ts=self._thread_ts,
            text=text,
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
                channel=self._channel, timestamp=self._message_ts, name=WORKING_REACTION
            )
        except SlackApiError as error:
            log.warning("could not remove the working reaction: %s", error.response.get("error"))
