"""Run helpdesk jobs: diagnose the ticket, then post the internal note (and tell Slack)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.diagnosis import Diagnoser, Diagnosis
from bot.conversation.turns import AttachmentRef, SkippedAttachment, ThreadKey, Turn
from bot.errors import BotError
from bot.intake.jobs import Job, JobState, JobStore
from bot.messages import Message
from bot.observability import catalogue
from bot.observability.log_context import log_context
from bot.observability.metrics import Metrics
from handlers.mrkdwn import escape, markdown_to_mrkdwn
from handlers.webhooks.ids import BadTicketId
from handlers.webhooks.notes import NotePoster
from handlers.webhooks.own_writes import HelpdeskApi

log = logging.getLogger(__name__)

_NOTE_ATTEMPTS = 3


class JobRunner:
    """Takes jobs from the store one at a time; what a crash interrupts is run again.

    A job whose diagnosis is already recorded is not diagnosed again, and a note
    already posted is not posted twice.

    Args:
        store: the durable jobs.
        diagnosers: per provider (each fetches attachments its own way).
        notes: per provider that takes internal notes.
        metrics: where outcomes are counted.
        helpdesks: per provider, recognises the bot's own notes echoed back (they are
            ignored, never answered) and reads what a delivery left out.
        slack: client and channel to announce each diagnosis in, if any.
    """

    def __init__(
        self,
        store: JobStore,
        *,
        diagnosers: Mapping[str, Diagnoser],
        notes: Mapping[str, NotePoster],
        metrics: Metrics,
        slack: tuple[AsyncWebClient, str] | None = None,
        helpdesks: Mapping[str, HelpdeskApi] | None = None,
    ) -> None:
        self._store = store
        self._helpdesks = helpdesks or {}
        self._diagnosers = diagnosers
        self._notes = notes
        self._metrics = metrics
        self._slack = slack

    async def run_forever(self) -> None:
        recovered = await self._store.recover()
        if recovered:
            log.info("resuming %d helpdesk jobs left in flight", recovered)
        while True:
            try:
                job = await self._store.claim(timeout=1.0)
            except Exception:  # Redis down: wait and try again, never die
                log.exception("could not claim a helpdesk job")
                await asyncio.sleep(2)
                continue
            if job is not None:
                await self.process(job)

    async def process(self, job: Job) -> Job:
        with log_context(request_id=job.id, workspace=job.provider, thread=job.ticket_id):
            return await self._process(job)

    async def _process(self, job: Job) -> Job:
        job = job.moved(JobState.RUNNING)
        await self._store.save(job)
        try:
            skipped: tuple[SkippedAttachment, ...] = ()
            helpdesk = self._helpdesks.get(job.provider)
            if job.result is None and helpdesk is not None:
                if await helpdesk.is_own_write(job):
                    return await self._ignore(job)
                job = await helpdesk.complete(job)
            if job.result is None:
                diagnosis = await self._diagnose(job)
                skipped = diagnosis.skipped
                job = job.moved(JobState.RUNNING, result=diagnosis.answer)
                await self._store.save(job)
            if not job.note_posted and job.provider in self._notes:
                await self._post_note(job, skipped)
                job = job.moved(JobState.RUNNING, note_posted=True)
            await self._announce(job)
            job = job.moved(JobState.DONE)
            self._metrics.count(catalogue.HELPDESK_JOBS, provider=job.provider, outcome="done")
        except (BotError, httpx.HTTPError, BadTicketId) as error:
            log.warning("helpdesk job %s failed: %s", job.id, error)
            job = job.moved(JobState.FAILED, error=f"{type(error).__name__}: {error}")
            self._metrics.count(catalogue.HELPDESK_JOBS, provider=job.provider, outcome="failed")
        await self._store.finish(job)
        return job

    async def _ignore(self, job: Job) -> Job:
        log.info("helpdesk job %s is the bot's own note echoed back: ignored", job.id)
        job = job.moved(JobState.IGNORED)
        self._metrics.count(catalogue.HELPDESK_JOBS, provider=job.provider, outcome="ignored")
        await self._store.finish(job)
        return job

    async def _diagnose(self, job: Job) -> Diagnosis:
        turn = Turn(
            thread=ThreadKey.for_ticket(job.provider, job.ticket_id),
            user_id=job.provider,
            text=job.text,
            message_ts=job.id,
            attachments=tuple(
                AttachmentRef(
                    a.name,
                    a.url,
                    size=a.size,
                    unavailable=Message(a.unavailable) if a.unavailable else None,
                )
                for a in job.attachments
            ),
        )
        async for event in self._diagnosers[job.provider].diagnose(turn):
            if isinstance(event, Diagnosis):
                return event
        raise RuntimeError("the diagnosis ended without an answer")

    async def _post_note(self, job: Job, skipped: tuple[SkippedAttachment, ...]) -> None:
        assert job.result is not None
        for attempt in range(1, _NOTE_ATTEMPTS + 1):
            try:
                await self._notes[job.provider].post(
                    job.ticket_id, job.result, skipped, job_id=job.id
                )
                return
            except httpx.HTTPError:
                if attempt == _NOTE_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)

    async def _announce(self, job: Job) -> None:
        if self._slack is None or job.result is None:
            return
        client, channel = self._slack
        try:
            await client.chat_postMessage(
                channel=channel,
                text=announcement(job.provider, job.ticket_id, job.result),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            log.warning(
                "could not announce job %s in Slack: %s", job.id, error.response.get("error")
            )


def announcement(provider: str, ticket_id: str, result: str) -> str:
    """The Slack post for a diagnosed ticket: ticket id and answer escaped, never mentions."""
    # The id sits in bold: characters that would end the bold or the line are dropped.
    ticket = re.sub(r"[*_~`\s]+", " ", ticket_id).strip()
    return f"*{escape(provider)} ticket {escape(ticket)}*\n{markdown_to_mrkdwn(result)}"
