"""Answer a Slack turn in its thread: the Slack transport's one error boundary."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.diagnosis import (
    AnswerPiece,
    AttachmentsRead,
    Consulted,
    Diagnoser,
    Diagnosis,
    QuestionShortened,
    Waiting,
)
from bot.conversation.escalation import ThreadStatus, asks_for_a_human
from bot.conversation.knowledge import Resolution
from bot.conversation.turns import SkippedAttachment, Turn
from bot.errors import (
    AnswerStopped,
    BotError,
    StoreUnavailable,
)
from bot.intake.handled_events import HandledEvents
from bot.intake.rate_limit import RateLimiter, RateRule
from bot.intake.work_log import WorkLog
from bot.messages import Language, Message, detect_language, ordinal, say
from bot.observability import catalogue
from bot.observability.log_context import log_context
from bot.observability.metrics import Metrics
from handlers.mrkdwn import code_span_text
from handlers.slack.blocks import feedback_actions
from handlers.slack.escalation import EscalationDesk
from handlers.slack.steps import AnswerSteps
from handlers.slack.thread_reply import (
    SlackThreadReply,
    StatusSupport,
    StreamingSupport,
    ThreadPlace,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimits:
    """Questions allowed per minute from one person and in one channel; 0 turns one off."""

    per_user: int = 10
    per_channel: int = 60

    def checks(self, turn: Turn) -> tuple[tuple[RateRule, str, Message], ...]:
        """Each limit as the limiter's rule, the subject it counts for `turn`, and what a
        person over it is told."""
        workspace = turn.thread.place
        return (
            (
                RateRule("user", self.per_user),
                f"{workspace}:{turn.user_id}",
                Message.RATE_LIMITED_USER,
            ),
            (
                RateRule("channel", self.per_channel),
                f"{workspace}:{turn.thread.space}",
                Message.RATE_LIMITED_CHANNEL,
            ),
        )


class SlackAnswerer:
    """Runs each accepted turn as its own task, after Slack has been acknowledged.

    Each message is claimed once (by workspace, channel and message ts), so
    Slack's retries and the app_mention + message pair of one post get one answer.

    Args:
        diagnoser: the use case.
        handled: the record of claimed messages (Redis, or in-memory).
        limiter: the one rate limiter: questions per user and channel, and (unless
            `streaming` is given) stream starts per workspace.
        limits: how many requests a minute each may make.
        metrics: where answers, failures and limits are counted.
        desk: hands threads to people; None when escalation is off.
        work_log: Slack deliveries recorded before their ack, forgotten once handled.
        streaming: whether to try Slack's streaming methods.
        status: whether to show the working status with assistant.threads.setStatus.
        update_interval: least seconds between two visible updates of an answer.
    """

    def __init__(
        self,
        diagnoser: Diagnoser,
        handled: HandledEvents,
        *,
        limiter: RateLimiter,
        limits: RateLimits = RateLimits(),
        metrics: Metrics | None = None,
        streaming: StreamingSupport | None = None,
        status: StatusSupport | None = None,
        update_interval: float = 1.0,
        desk: EscalationDesk | None = None,
        work_log: WorkLog | None = None,
    ) -> None:
        self._diagnoser = diagnoser
        self._handled = handled
        self._limiter = limiter
        self._limits = limits
        self._metrics = metrics or Metrics()
        self._streaming = streaming or StreamingSupport(limiter=limiter)
        self._status = status or StatusSupport()
        self._update_interval = update_interval
        self._desk = desk
        self._work_log = work_log
        self._stopping = False
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def submit(self, turn: Turn, client: AsyncWebClient) -> None:
        """Start answering `turn` in the background; returns at once."""
        key = (turn.thread.space, turn.message_ts)
        task = asyncio.create_task(self.answer(turn, client), name=f"answer-{turn.message_ts}")
        self._tasks[key] = task
        task.add_done_callback(lambda _: self._tasks.pop(key, None))

    def cancel(self, channel: str, message_ts: str) -> bool:
        """Stop the answer to a message (it was deleted); True if one was in flight."""
        task = self._tasks.get((channel, message_ts))
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def drain(self, grace_seconds: float | None = None) -> None:
        """Wait for the answers in flight; past `grace_seconds`, stop them and say so."""
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, unfinished = await asyncio.wait(tasks, timeout=grace_seconds)
        if unfinished:
            log.warning("stopping %d answers still in flight at shutdown", len(unfinished))
            self._stopping = True
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    async def answer(self, turn: Turn, client: AsyncWebClient) -> None:
        thread = turn.thread
        with log_context(workspace=thread.place, channel=thread.space, thread=thread.thread_id):
            try:
                claim = f"{thread.place}:{thread.space}:{turn.message_ts}"
                if not await self._handled.claim(claim):
                    log.info("message %s already handled; not answering again", claim)
                    return
                try:
                    await self._answer(turn, client)
                finally:
                    await self._handled.complete(claim)
            finally:
                await self.forget(turn.source_id)

    async def forget(self, source_id: str | None) -> None:
        """The delivery needs no recovery any more: answered, refused or not for the bot."""
        if source_id is None or self._work_log is None:
            return
        try:
            await self._work_log.finish(source_id)
        except StoreUnavailable as error:  # recovery may replay it; the claim stops a repeat
            log.warning("could not mark %s done: %s", source_id, error)

    async def _answer(self, turn: Turn, client: AsyncWebClient) -> None:
        language = turn.language or detect_language(turn.text)
        steps = AnswerSteps(language)
        reply = SlackThreadReply(
            client,
            ThreadPlace(
                channel=turn.thread.space,
                thread_ts=turn.thread.thread_id,
                message_ts=turn.message_ts,
                team_id=turn.thread.place,
                user_id=turn.user_id,
            ),
            streaming=self._streaming,
            update_interval=self._update_interval,
            status=self._status,
            steps=steps,
        )
        if refusal := await self._over_limit(turn, language):
            self._metrics.count(catalogue.RATE_LIMITED)
            await self._tell(reply, refusal)
            return
        if self._desk is not None and await self._handed_to_people(turn, client, language):
            return
        so_far = ""
        events: AsyncIterator[object] | None = None
        shortened = ""  # the note that the question was cut, shown above the answer
        try:
            working = say(
                Message.WORKING_ON_SCREENSHOT if turn.attachments else Message.WORKING, language
            )
            await reply.start(working)
            events = self._diagnoser.diagnose(turn, progress=steps.record)
            async for event in events:
                await reply.show_step()  # the fallback for task cards: the status line
                if isinstance(event, AttachmentsRead):
                    so_far = _notes(event.skipped, language, event.notices)
                    if so_far:
                        await reply.progress(so_far, force=True)
                elif isinstance(event, QuestionShortened):
                    note = say(
                        Message.QUESTION_SHORTENED, language, kept=event.kept, total=event.total
                    )
                    shortened = f"> {note}\n\n"
                    so_far += shortened
                    await reply.progress(so_far, force=True)
                elif isinstance(event, Consulted):
                    so_far += _drawing_on(event.references, language)
                elif isinstance(event, Waiting):
                    place = ordinal(event.ahead + 1, language)
                    await reply.status(
                        say(
                            Message.WAITING_IN_LINE,
                            language,
                            working=working,
                            place=place,
                            number=event.ahead + 1,
                        )
                    )
                elif isinstance(event, AnswerPiece):
                    so_far += event.text
                    await reply.progress(so_far)
                elif isinstance(event, Diagnosis):
                    final = _notes(event.skipped, language, event.notices) + shortened
                    if event.references:
                        final += _drawing_on(event.references, language)
                    actions = feedback_actions(
                        turn.thread.thread_id, language, escalation=self._desk is not None
                    )
                    await reply.finish(final + event.answer, actions=actions)
            self._metrics.count(catalogue.ANSWERS, outcome="answered")
        except AnswerStopped:
            # The person pressed Stop: no more text, no error message, the model stops too.
            log.info("answer to %s stopped by the user", turn.message_ts)
            self._metrics.count(catalogue.ANSWERS, outcome="stopped_by_user")
            await _close(events)
            await reply.stopped_quietly()
        except asyncio.CancelledError:
            self._metrics.count(catalogue.ANSWERS, outcome="cancelled")
            reason = Message.RESTARTING if self._stopping else Message.QUESTION_DELETED
            await self._tell(reply, say(reason, language), so_far)
        except BotError as error:
            log.warning("could not answer %s: %s", turn.message_ts, error)
            self._metrics.count(catalogue.ANSWERS, outcome=type(error).__name__)
            await self._tell(reply, error.user_message(language), so_far)
        except Exception:
            reference = uuid.uuid4().hex[:8]
            log.exception("answering %s failed (reference %s)", turn.message_ts, reference)
            self._metrics.count(catalogue.ANSWERS, outcome="internal_error")
            await self._tell(
                reply, say(Message.INTERNAL_ERROR, language, reference=reference), so_far
            )

    async def _handed_to_people(
        self, turn: Turn, client: AsyncWebClient, language: Language
    ) -> bool:
        """Escalate when the user asks for a person; True when the bot should not answer."""
        assert self._desk is not None
        thread = turn.thread
        await self._desk.cases.remember_thread(
            thread.place, thread.space, turn.user_id, thread.thread_id
        )
        if asks_for_a_human(turn.text):
            await self._desk.escalate(client, thread, by=turn.user_id, language=language)
            return True
        case = await self._desk.cases.get(thread)
        if case.status is ThreadStatus.RESOLVED:  # asked again after a resolution: back to the bot
            await self._desk.cases.save(case.reopened())
        return False

    async def _over_limit(self, turn: Turn, language: Language) -> str | None:
        for rule, subject, message in self._limits.checks(turn):
            decision = await rule.hit(self._limiter, subject)
            if not decision.allowed:
                return say(message, language, seconds=decision.retry_after)
        return None

    @staticmethod
    async def _tell(reply: SlackThreadReply, text: str, so_far: str = "") -> None:
        try:
            if so_far.strip():
                await reply.broke_off(so_far, text)
            else:
                await reply.fail(text)
        except Exception:  # Slack itself is failing; the log is all that is left
            log.exception("could not post the error message to Slack")


async def _close(events: AsyncIterator[object] | None) -> None:
    """Close the diagnosis early, so the model stops writing an answer nobody will see."""
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


def _drawing_on(references: tuple[Resolution, ...], language: Language) -> str:
    dates = ", ".join(r.date for r in references)
    return say(Message.DRAWING_ON_PAST, language, count=len(references), dates=dates) + "\n\n"


def _notes(
    skipped: tuple[SkippedAttachment, ...], language: Language, notices: tuple[str, ...] = ()
) -> str:
    """The skipped-file and partly-read sentences, as Markdown quotes above the answer."""
    lines = [
        "> "
        + say(Message.SKIPPED_FILE, language, filename=code_span_text(s.filename), reason=s.reason)
        for s in skipped
    ]
    lines += [f"> {notice}" for notice in notices]
    return "\n".join(lines) + "\n\n" if lines else ""
