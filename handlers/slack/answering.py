"""Answer a Slack turn in its thread: the Slack transport's one error boundary."""

from __future__ import annotations

import asyncio
import logging
import uuid

from slack_sdk.web.async_client import AsyncWebClient

from bot.dedup import HandledEvents
from bot.diagnosis import AnswerPiece, AttachmentsRead, Diagnoser, Diagnosis
from bot.errors import BotError, GenerationFailed, ModelUnavailable
from bot.messages import Language, Message, detect_language, say
from bot.turns import SkippedAttachment, Turn
from handlers.slack.thread_reply import SlackThreadReply

log = logging.getLogger(__name__)


class SlackAnswerer:
    """Runs each accepted turn as its own task, after Slack has been acknowledged.

    Each message is claimed once (by workspace, channel and message ts), so
    Slack's retries and the app_mention + message pair of one post get one answer.

    Args:
        diagnoser: the use case.
        handled: the record of claimed messages (Redis, or in-memory).
        update_interval: least seconds between two edits of a streamed answer.
    """

    def __init__(
        self, diagnoser: Diagnoser, handled: HandledEvents, *, update_interval: float = 1.0
    ) -> None:
        self._diagnoser = diagnoser
        self._handled = handled
        self._update_interval = update_interval
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def diagnoser(self) -> Diagnoser:
        return self._diagnoser

    def submit(self, turn: Turn, client: AsyncWebClient) -> None:
        """Start answering `turn` in the background; returns at once."""
        task = asyncio.create_task(self.answer(turn, client), name=f"answer-{turn.message_ts}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every answer in flight."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def answer(self, turn: Turn, client: AsyncWebClient) -> None:
        claim = f"{turn.thread.workspace}:{turn.thread.channel}:{turn.message_ts}"
        if not await self._handled.claim(claim):
            log.info("message %s already handled; not answering again", claim)
            return
        language = detect_language(turn.text)
        reply = SlackThreadReply(
            client,
            channel=turn.thread.channel,
            thread_ts=turn.thread.thread_ts,
            message_ts=turn.message_ts,
            update_interval=self._update_interval,
        )
        try:
            working = Message.WORKING_ON_SCREENSHOT if turn.attachments else Message.WORKING
            await reply.start(say(working, language))
            await self._stream_answer(turn, reply)
        except BotError as error:
            log.warning("could not answer %s: %s", claim, error)
            await self._tell(reply, _user_message(error, language))
        except Exception:
            reference = uuid.uuid4().hex[:8]
            log.exception("answering %s failed (reference %s)", claim, reference)
            await self._tell(reply, say(Message.INTERNAL_ERROR, language, reference=reference))

    async def _stream_answer(self, turn: Turn, reply: SlackThreadReply) -> None:
        skipped: tuple[SkippedAttachment, ...] = ()
        language = Language.ENGLISH
        so_far = ""
        async for event in self._diagnoser.diagnose(turn):
            if isinstance(event, AttachmentsRead):
                skipped, language = event.skipped, event.language
            elif isinstance(event, AnswerPiece):
                so_far += event.text
                await reply.progress(so_far)
            elif isinstance(event, Diagnosis):
                notes = tuple(
                    say(Message.SKIPPED_FILE, language, filename=s.filename, reason=s.reason)
                    for s in skipped
                )
                await reply.finish(event.answer, notes=notes)

    @staticmethod
    async def _tell(reply: SlackThreadReply, text: str) -> None:
        try:
            await reply.fail(text)
        except Exception:  # Slack itself is failing; the log is all that is left
            log.exception("could not post the error message to Slack")


def _user_message(error: BotError, language: Language) -> str:
    if isinstance(error, ModelUnavailable):
        return say(Message.MODEL_UNAVAILABLE, language)
    if isinstance(error, GenerationFailed):
        return say(Message.GENERATION_FAILED, language)
    return say(Message.INTERNAL_ERROR, language, reference=type(error).__name__)
