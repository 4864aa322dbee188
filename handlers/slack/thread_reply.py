"""One answer in a Slack thread: working indicator, live status, the answer as it grows.

The answer streams with Slack's `chat.startStream`/`appendStream`/`stopStream`
where the workspace has them; otherwise the placeholder is edited with
`chat.update`, at most once per `update_interval`. Either way the final answer
carries the feedback buttons.

Slack's rules this follows (https://docs.slack.dev/reference/methods/chat.startStream and its
two siblings): each call's `markdown_text` holds at most 12,000 characters; a start that Slack
refuses, for any reason, leaves the answer to `chat.update`; an append answered
`stopped_by_user` or `message_not_in_streaming_state` means the stream is over; a message
that is streaming cannot be edited (`streaming_state_conflict`); `chat.startStream` and
`chat.stopStream` are Tier 2 (about 20 a minute per workspace).

Stop versus expiry. An append answered `stopped_by_user` is the person pressing Stop
(chat.appendStream page): the answer ends quietly. `message_not_in_streaming_state` on a stream
the bot has not stopped is Slack ending it: Slack closes streams after an undocumented window
(about five minutes, and after long gaps between appends: slackapi/python-slack-sdk#1859, and
its fix #1880 "the only recovery path is chat.update(ts=...)"; vercel/chat#607). Then the
answer goes on in the same message with `chat.update`, and in further messages past Slack's
length limit, so nothing the model wrote is lost. The stored docs say nothing of an event for
Stop, so the error code is the only signal the bot has.

Steps. Once an answer streams, its steps (files read, the answer being written) show as
task cards in the streamed message (handlers/slack/steps.py), ended complete with the answer
or in error when it breaks off; an answer that fails before its first word streams its
warning under its steps, ended. Before a stream, and where nothing streams, the status line
names the current step.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.steps import StepStatus
from bot.errors import AnswerStopped
from bot.intake.rate_limit import RateLimiter, RateRule
from handlers.mrkdwn import escape, markdown_to_mrkdwn
from handlers.slack.blocks import answer_blocks
from handlers.slack.chunks import MESSAGE_LIMIT, cut_point, split_message
from handlers.slack.posting import post_once
from handlers.slack.steps import AnswerSteps, step_line

log = logging.getLogger(__name__)

WORKING_REACTION = "eyes"
# One streamed message holds at most this much; a longer answer continues in another. Every
# start, append and stop carries a piece of one message, so no call exceeds Slack's 12,000.
STREAM_MESSAGE_LIMIT = 11_000
_ENTITY = len("&amp;")  # the most one character grows by when escaped


def _shown(markdown: str, start: int, end: int) -> str:
    """What Slack is sent for `markdown[start:end]`: escaped as part of the whole."""
    return escape(markdown[:end])[len(escape(markdown[:start])) :]


# Refusals that say the app or workspace cannot stream at all: stop trying for the process.
# Any other refusal (not_in_channel, messages_tab_disabled, restricted_action, a 429…)
# concerns one answer, which is then edited in place.
_NO_STREAMING = {"unknown_method", "not_allowed_token_type", "missing_scope"}
# An append or stop answered with one of these: the stream is over; nothing more can be added
# to it. The first is the person's Stop, the second Slack closing the stream (its window).
_STOPPED = "stopped_by_user"
_EXPIRED = "message_not_in_streaming_state"
_STREAM_OVER = {_STOPPED, _EXPIRED}
# chat.startStream is Tier 2, "20+ per minute" per workspace; keep a little under it.
STREAM_STARTS_PER_MINUTE = 18
STREAM_STARTS = RateRule("stream-start", STREAM_STARTS_PER_MINUTE, 60)  # subject: the workspace


class StreamingSupport:
    """Whether to try Slack's streaming methods, and how many stream starts a minute.

    Turned off for the process when Slack says it cannot stream at all; each workspace
    starts at most `starts_per_minute` streams a minute (chat.startStream's tier), counted
    by the bot's one rate limiter (shared by the replicas, as Slack's tier is); the answers
    past that are edited in place. Without a limiter the starts are not counted.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        limiter: RateLimiter | None = None,
        starts_per_minute: int = STREAM_STARTS_PER_MINUTE,
    ) -> None:
        self.enabled = enabled
        self._limiter = limiter
        self._starts = replace(STREAM_STARTS, limit=starts_per_minute)

    def refuse(self, error: str) -> None:
        if self.enabled:
            log.warning("Slack refused chat.startStream (%s): answers are edited in place", error)
        self.enabled = False

    async def take_start(self, team_id: str) -> bool:
        """Count one stream start for `team_id`; False when its minute's budget is spent."""
        if self._limiter is None:
            return True
        return (await self._starts.hit(self._limiter, team_id)).allowed


class StatusSupport:
    """Whether to show "is working…" with `assistant.threads.setStatus`.

    Since 2026-03 the method takes the `chat:write` scope and works in channels too
    (https://docs.slack.dev/changelog/2026/03/05/set-status-scope-update). Where Slack
    refuses it for the app as a whole, the 👀 reaction and a placeholder reply are used.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled

    def refuse(self, error: str) -> None:
        if self.enabled:
            log.warning("Slack refused assistant.threads.setStatus (%s): using 👀 instead", error)
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
        status: whether to show the working status with assistant.threads.setStatus.
        steps: the answer's steps, shown as task cards once it streams; None: no cards.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        place: ThreadPlace,
        *,
        streaming: StreamingSupport,
        update_interval: float = 1.0,
        status: StatusSupport | None = None,
        steps: AnswerSteps | None = None,
    ) -> None:
        self._client = client
        self._steps = steps
        self._step_shown: str | None = None
        self._status = status or StatusSupport()
        self._status_shown = False
        self._place = place
        self._streaming = streaming
        self._update_interval = update_interval
        self._placeholder_ts: str | None = None
        self._last_update = 0.0
        self._reacted = False
        self._stream_ts: str | None = None
        self._streamed = 0  # characters of the answer already in stream messages
        self._stream_start = 0  # where the current stream message begins in the answer
        self._stream_here = True  # False once this answer went over to chat.update
        self._edited_from = 0  # where the edited part of the answer begins (after streams)
        self.stopped = False  # the person stopped the streamed answer

    async def start(self, working_text: str) -> None:
        """Show the user we are on it: the thread's status ("supportbot is reading your
        screenshot…"), or where Slack will not show one, a 👀 reaction and a placeholder."""
        if await self._set_status(working_text):
            self._status_shown = True
            self._last_update = time.monotonic()
            return
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
        """Replace the status line (while no answer text is shown yet)."""
        if self._stream_ts is None and self._streamed == 0:
            if self._status_shown and self._placeholder_ts is None:
                await self._set_status(text)  # also renews Slack's two-minute status timeout
            else:
                await self._edit(f"_{text}_")

    async def show_step(self) -> None:
        """Name the current step in the status line (or placeholder) while no answer text
        is shown: the fallback where there are no task cards. Only a changed step is sent."""
        step = self._steps.current if self._steps is not None else None
        if step is None or step.id == self._step_shown:
            return
        self._step_shown = step.id
        await self.status(step_line(step))

    async def _set_status(self, text: str) -> bool:
        if not self._status.enabled:
            return False
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=self._place.channel, thread_ts=self._place.thread_ts, status=text
            )
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code in _NO_STREAMING:  # the app may not: the same codes as for streaming
                self._status.refuse(code)
            else:
                log.info("assistant.threads.setStatus refused here (%s)", code)
            return False
        return True

    async def progress(self, markdown_so_far: str, *, force: bool = False) -> None:
        """Show the answer so far, unless the last update was too recent."""
        if not force and time.monotonic() - self._last_update < self._update_interval:
            return
        if await self._stream(markdown_so_far):
            return
        preview = markdown_to_mrkdwn(markdown_so_far[self._edited_from :])
        if preview.count("```") % 2:
            preview += "\n```"
        if len(preview) > MESSAGE_LIMIT:
            preview = split_message(preview)[0]
        await self._edit(preview + " …")

    async def finish(self, markdown: str, *, actions: dict[str, Any] | None = None) -> None:
        """Show the whole answer, with `actions` (the feedback buttons) under it."""
        if await self._stream(markdown):
            ts = self._stream_ts
            if ts is None or (
                await self._close_steps(StepStatus.COMPLETE)
                and await self._stop_stream(blocks=[actions] if actions else None)
            ):
                await self._clear_reaction()
                return
            # Slack closed the stream before its end: the buttons (and the text) by editing.
            self._continue_after_expiry(ts)
        await self._finish_by_editing(markdown[self._edited_from :], actions)
        await self._clear_reaction()

    async def broke_off(self, markdown_so_far: str, warning: str) -> None:
        """The answer stopped midway: keep what was shown and say why it is incomplete."""
        text = (
            f"{markdown_so_far.rstrip()}\n\n:warning: {warning}"
            if markdown_so_far
            else (f":warning: {warning}")
        )
        if self.stopped:
            await self._clear_reaction()
            return
        if self._stream_ts is not None:
            try:
                if await self._stream(text):
                    await self._close_steps(StepStatus.ERROR)
                    await self._stop_stream()
                    await self._clear_reaction()
                    return
            except AnswerStopped:
                await self._clear_reaction()
                return
        await self._finish_by_editing(text[self._edited_from :], None)
        await self._clear_reaction()

    async def fail(self, text: str) -> None:
        """Say the answer failed: in a stream with the steps it had taken, ended; or in the
        placeholder (a new reply if there is none)."""
        if self._stream_ts is not None or self.stopped:
            await self.broke_off("", text)
            return
        if await self._fail_with_steps(f":warning: {text}"):
            await self._clear_reaction()
            return
        await self._edit(f":warning: {text}")
        await self._clear_reaction()

    async def _fail_with_steps(self, warning: str) -> bool:
        """Stream `warning` under the steps taken so far, each ended; False when there are
        none, or Slack will not stream here (the warning is then edited in)."""
        if self._steps is None or self._streamed:
            return False
        if not (self._streaming.enabled and self._stream_here):
            return False
        chunks = self._steps.failed()  # before the start, so the opening cards are not sent
        if chunks is None:
            return False
        if not await self._stream(warning):
            return False
        await self._send_steps(chunks)
        await self._stop_stream()  # a stream Slack closed already is left as it is
        return True

    async def stopped_quietly(self) -> None:
        """The person stopped the answer: only the working indicator goes."""
        self.stopped = True
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
        """Stream what is new in `markdown`; False when this answer is to be edited instead.

        Raises:
            AnswerStopped: the person stopped the stream (or Slack closed it).
        """
        if self.stopped:
            raise AnswerStopped()
        if not (self._streaming.enabled and self._stream_here):
            return False
        # What Slack gets is escaped (no mention or link can be formed), and the limits
        # count what Slack gets: escaping the whole and cutting off what was sent keeps a
        # quote marker at a line start a quote marker.
        while self._streamed < len(markdown):
            used = len(_shown(markdown, self._stream_start, self._streamed))
            if self._stream_ts is not None and used >= STREAM_MESSAGE_LIMIT - _ENTITY:
                await self._close_steps(StepStatus.COMPLETE)  # the cards are in this message
                await self._stop_stream()
                self._stream_start, used = self._streamed, 0
            room = STREAM_MESSAGE_LIMIT - used
            rest = markdown[self._streamed :]
            end = len(rest) if len(rest) <= room else cut_point(rest, room)
            sent = _shown(markdown, self._streamed, self._streamed + end)
            while len(sent) > room:  # entities made it longer: cut shorter
                end = max(1, cut_point(rest, max(1, end * room // len(sent))))
                sent = _shown(markdown, self._streamed, self._streamed + end)
            if self._stream_ts is None:
                if not await self._start_stream(sent):
                    return False
            elif not await self._append(sent):
                return False  # Slack closed the stream: the answer goes on by editing
            self._streamed += end
            self._last_update = time.monotonic()
        return True

    async def _start_stream(self, piece: str) -> bool:
        if not await self._streaming.take_start(self._place.team_id):
            log.info("stream starts for %s spent this minute: editing instead", self._place.team_id)
            self._go_over_to_edits()
            return False
        try:
            response = await self._client.chat_startStream(
                channel=self._place.channel,
                thread_ts=self._place.thread_ts,
                markdown_text=piece,
                recipient_team_id=self._place.team_id,
                recipient_user_id=self._place.user_id,
            )
        except SlackApiError as error:  # any refusal: this answer is edited in place instead
            code = str(error.response.get("error", ""))
            log.info("Slack refused chat.startStream (%s): editing this answer", code)
            if code in _NO_STREAMING:
                self._streaming.refuse(code)
            self._go_over_to_edits()
            return False
        self._stream_ts = str(response["ts"])
        await self._drop_placeholder()
        if self._steps is not None:
            await self._send_steps(self._steps.opening())
        return True

    async def _close_steps(self, status: StepStatus) -> bool:
        """End the task cards in `status`; False when Slack had closed the stream."""
        if self._steps is None:
            return True
        return await self._send_steps(self._steps.closing(status))

    async def _send_steps(self, chunks: list[dict[str, Any]] | None) -> bool:
        """Send task cards to the stream; False when Slack had closed it (its window).

        A call of their own: the method pages list `markdown_text` and `chunks` as separate
        arguments and do not say that one call may carry both. The cards are a bonus: any
        other refusal (a 429, a stop) is logged and the answer goes on as before.
        """
        if not chunks or self._stream_ts is None:
            return True
        try:
            await self._client.chat_appendStream(
                channel=self._place.channel, ts=self._stream_ts, chunks=chunks
            )
        except SlackApiError as error:
            code = error.response.get("error")
            log.info("Slack refused the task cards (%s)", code)
            return bool(code != _EXPIRED)
        return True

    def _go_over_to_edits(self) -> None:
        """What streamed so far stays; the rest of the answer is posted and edited."""
        self._stream_here = False
        self._edited_from = self._streamed

    async def _append(self, piece: str) -> bool:
        """Append `piece`; False when Slack had closed the stream (the answer is then edited).

        Raises:
            AnswerStopped: the person pressed Stop.
        """
        assert self._stream_ts is not None
        try:
            await self._client.chat_appendStream(
                channel=self._place.channel, ts=self._stream_ts, markdown_text=piece
            )
        except SlackApiError as error:
            code = error.response.get("error")
            if code == _STOPPED:
                self._stream_ts = None
                self.stopped = True
                raise AnswerStopped() from error
            if code == _EXPIRED:
                self._continue_after_expiry(self._stream_ts)
                return False
            raise
        return True

    def _continue_after_expiry(self, ts: str) -> None:
        """Slack closed stream `ts` while the bot was still writing: from now on the answer is
        edited into that same message (from where it began) and posted on past the limit."""
        log.warning("Slack closed stream %s before the answer ended: going on with chat.update", ts)
        self._stream_ts = None
        self._stream_here = False
        self._placeholder_ts = ts
        self._edited_from = self._stream_start

    async def _stop_stream(self, *, blocks: list[dict[str, Any]] | None = None) -> bool:
        """Stop the stream; False when Slack had closed it already (what streamed stays)."""
        if self._stream_ts is None:
            return True
        ts, self._stream_ts = self._stream_ts, None
        try:
            await self._client.chat_stopStream(channel=self._place.channel, ts=ts, blocks=blocks)
        except SlackApiError as error:
            if error.response.get("error") not in _STREAM_OVER:
                raise
            log.info("stream %s had already ended: %s", ts, error.response.get("error"))
            return bool(error.response.get("error") == _STOPPED)
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
        return await post_once(
            self._client,
            channel=self._place.channel,
            thread_ts=self._place.thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )

    async def _clear_reaction(self) -> None:
        if self._status_shown:
            self._status_shown = False
            try:  # an empty status clears it (it also goes by itself when the bot replies)
                await self._client.assistant_threads_setStatus(
                    channel_id=self._place.channel, thread_ts=self._place.thread_ts, status=""
                )
            except SlackApiError as error:
                log.warning("could not clear the status: %s", error.response.get("error"))
        if not self._reacted:
            return
        self._reacted = False
        try:
            await self._client.reactions_remove(
                channel=self._place.channel, timestamp=self._place.message_ts, name=WORKING_REACTION
            )
        except SlackApiError as error:
            log.warning("could not remove the working reaction: %s", error.response.get("error"))
