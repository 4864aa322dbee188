"""Run helpdesk jobs: diagnose the ticket, then post the internal note (and tell Slack).

Any failure of one job fails that job, never the runner. A failure that may pass
(a 429, a 5xx, a timeout, an error nothing anticipated) puts the job back to wait
(honouring the vendor's `Retry-After`, else backing off over minutes); a refusal
that cannot pass (400/401/403/404/422), or the last allowed attempt failing,
dead-letters the job with its reason. See `retry_policy` for which is which.

A claimed job is held under the store's lease, renewed every third of it while the
job runs. A renewal that finds the job taken over (this replica stalled past its
lease) stops the work on it: the new holder runs it. Stopping the runner hands
its unfinished job back, the attempt it was in not counted.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.diagnosis import Diagnoser, Diagnosis
from bot.conversation.turns import AttachmentRef, SkippedAttachment, ThreadKey, Turn
from bot.errors import BotError
from bot.intake.jobs import TERMINAL_STATES, Job, JobState, JobStore
from bot.messages import Message
from bot.observability import catalogue
from bot.observability.log_context import log_context
from bot.observability.metrics import Metrics
from handlers.mrkdwn import escape, markdown_to_mrkdwn
from handlers.webhooks.helpdesk_api import HelpdeskApi, NotePoster
from handlers.webhooks.retry_policy import GiveUp, backoff, classify

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 6


class _LeaseLost(Exception):
    """This runner no longer holds the job: another replica took it over."""


DEFAULT_FIRST_RETRY_SECONDS = 30.0


class JobRunner:
    """Takes jobs from the store one at a time; what a crash interrupts is run again.

    A job whose diagnosis is already recorded is not diagnosed again, and a note
    already posted is not posted twice (one whose POST may have gone through is
    looked for on the ticket first).

    Args:
        store: the durable jobs.
        diagnosers: per provider (each fetches attachments its own way).
        notes: per provider that takes internal notes.
        metrics: where outcomes are counted.
        helpdesks: per provider, recognises the bot's own notes echoed back (they are
            ignored, never answered) and reads what a delivery left out.
        slack: client and channel to announce each diagnosis in, if any.
        attempts: how many times a job is tried before it is dead-lettered.
        first_retry_seconds: the wait after the first failure (then 4x longer each time).
        clock: unix time now (for the wait a vendor asks with an absolute time).
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
        attempts: int = DEFAULT_ATTEMPTS,
        first_retry_seconds: float = DEFAULT_FIRST_RETRY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._helpdesks = helpdesks or {}
        self._diagnosers = diagnosers
        self._notes = notes
        self._metrics = metrics
        self._slack = slack
        self._attempts = max(attempts, 1)
        self._first_retry = first_retry_seconds
        self._clock = clock

    async def run_forever(self) -> None:
        """Claim and run jobs until cancelled; then hand back what is unfinished."""
        carried = await self._start_store()
        if carried:
            log.info("carried over %d helpdesk jobs from the previous layout", carried)
        try:
            while True:
                try:
                    job = await self._store.claim(timeout=1.0)
                    if job is not None:
                        await self._run_held(job)
                except Exception:  # the store itself failed (Redis down): wait, never die
                    log.exception("could not claim or record a helpdesk job")
                    await asyncio.sleep(2)
        finally:
            try:
                handed = await self._store.stop()
            except Exception:  # Redis down at shutdown: the leases run out instead
                log.warning("could not hand back helpdesk jobs; their leases will run out")
            else:
                if handed:
                    log.info("handed back %d unfinished helpdesk jobs", handed)

    async def _start_store(self) -> int:
        # Redis unreachable while the process starts must not end the runner for good:
        # the webhooks keep recording jobs that would then never run.
        while True:
            try:
                return await self._store.start()
            except Exception:
                log.exception("could not get the helpdesk job store ready; trying again")
                await asyncio.sleep(2)

    async def _run_held(self, job: Job) -> None:
        """Run a claimed job while keeping its lease; hand it back if this runner is stopped."""
        work = asyncio.create_task(self.process(job), name=f"helpdesk-job-{job.id}")
        keeper = asyncio.create_task(self._keep_lease(job.id, work), name="helpdesk-job-lease")
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # This runner is stopping: the job goes back, its attempt not counted.
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                await self._hand_back(job)
                raise
            # The lease was lost and the work stopped: the new holder runs the job.
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _hand_back(self, claimed: Job) -> None:
        # What the attempt recorded (its diagnosis, a note sent) is kept; the count goes
        # back to what it was when this runner claimed the job.
        if not await self._store.renew(claimed.id):
            # Taken over meanwhile: the record is the new holder's to write.
            log.warning("helpdesk job %s was taken over before it could be handed back", claimed.id)
            return
        job = await self._store.get(claimed.id)
        if job is None:
            return  # expired: `stop()` hands the entry back and the next claim drops it
        if job.state in TERMINAL_STATES:
            await self._store.finish(job)  # it ended just before the stop
            return
        await self._store.release(job.moved(JobState.QUEUED, attempts=claimed.attempts))
        log.info("helpdesk job %s handed back unfinished", claimed.id)

    async def _keep_lease(self, job_id: str, work: asyncio.Task[Job]) -> None:
        every = max(self._store.lease_seconds / 3, 0.05)
        while not work.done():
            await asyncio.sleep(every)
            try:
                renewed = await self._store.renew(job_id)
            except Exception as error:  # Redis unreachable: try again; the lease may run out
                self._metrics.count(catalogue.HELPDESK_LEASE_RENEWALS_FAILED, reason="error")
                log.warning("could not renew the lease of helpdesk job %s: %s", job_id, error)
                continue
            if not renewed and not work.done():
                self._metrics.count(catalogue.HELPDESK_LEASE_RENEWALS_FAILED, reason="lost")
                log.error(
                    "helpdesk job %s was taken over by another replica (this one let its lease"
                    " run out); stopping work on it here",
                    job_id,
                )
                work.cancel()
                return

    async def process(self, job: Job) -> Job:
        """Run one claimed job to its next state (done, waiting to retry, or dead)."""
        with log_context(request_id=job.id, workspace=job.provider, thread=job.ticket_id):
            return await self._process(job)

    async def _process(self, job: Job) -> Job:
        if job.state in TERMINAL_STATES:  # queued twice; already ended
            await self._store.finish(job)
            return job
        if job.attempts >= self._attempts:
            # Claimed again with no attempt left: the last one never ended, the
            # process died in it. Running it again would only die again.
            reason = job.error or "the process stopped while running it"
            return await self._bury(job, f"gave up after {job.attempts} attempts: {reason}")
        job = job.moved(JobState.RUNNING, attempts=job.attempts + 1, next_attempt_at=None)
        await self._store.save(job)  # the attempt counts even if this process dies in it
        try:
            job = await self._run(job)
        except _LeaseLost:
            # The new holder runs it; anything written from here would overwrite its record.
            log.error("helpdesk job %s was taken over mid-run; stopping work on it here", job.id)
            return job
        except Exception as error:
            return await self._failed(job, error)
        outcome = "ignored" if job.state is JobState.IGNORED else "done"
        self._metrics.count(catalogue.HELPDESK_JOBS, provider=job.provider, outcome=outcome)
        await self._store.finish(job)
        return job

    async def _run(self, job: Job) -> Job:
        skipped: tuple[SkippedAttachment, ...] = ()
        helpdesk = self._helpdesks.get(job.provider)
        if job.result is None and helpdesk is not None:
            if await helpdesk.is_own_write(job):
                log.info("helpdesk job %s is the bot's own note echoed back: ignored", job.id)
                return job.moved(JobState.IGNORED)
            job = await helpdesk.complete(job)
        if job.result is None:
            diagnosis = await self._diagnose(job)
            skipped = diagnosis.skipped
            job = job.moved(JobState.RUNNING, result=diagnosis.answer)
            await self._store.save(job)
        if not job.note_posted and job.provider in self._notes:
            job = await self._post_note(job, skipped)
        await self._announce(job)
        return job.moved(JobState.DONE, error=None)

    async def _failed(self, job: Job, error: Exception) -> Job:
        # What the attempt recorded before failing (its diagnosis, a POST sent) is kept.
        job = await self._store.get(job.id) or job
        now = self._clock()
        verdict = classify(error, now=now)
        anticipated = isinstance(error, BotError | httpx.HTTPError)
        log.warning(
            "helpdesk job %s attempt %d failed: %s",
            job.id,
            job.attempts,
            verdict.reason,
            exc_info=None if anticipated else error,
        )
        if isinstance(verdict, GiveUp):
            return await self._bury(job, verdict.reason)
        if job.attempts >= self._attempts:
            return await self._bury(job, f"gave up after {job.attempts} attempts: {verdict.reason}")
        wait = max(verdict.at_least, backoff(job.attempts, first=self._first_retry))
        job = job.moved(JobState.RETRYING, error=verdict.reason, next_attempt_at=now + wait)
        await self._store.retry_later(job, now + wait)
        self._metrics.count(catalogue.HELPDESK_RETRIES, provider=job.provider)
        return job

    async def _bury(self, job: Job, reason: str) -> Job:
        log.error("helpdesk job %s dead-lettered: %s", job.id, reason)
        job = job.moved(JobState.DEAD, error=reason, next_attempt_at=None)
        await self._store.bury(job)
        self._metrics.count(catalogue.HELPDESK_JOBS, provider=job.provider, outcome="dead_lettered")
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

    async def _post_note(self, job: Job, skipped: tuple[SkippedAttachment, ...]) -> Job:
        answer = job.result
        assert answer is not None
        notes = self._notes[job.provider]
        # A POST sent before may have been applied although its answer never came.
        if job.note_attempted and await notes.exists(job.ticket_id, job.id):
            log.info("the note of job %s is already on the ticket; not posting it again", job.id)
        else:
            # The one step that cannot be taken back: only while this runner holds the job.
            # The renewal resets the lease, so a take-over needs a whole lease from here,
            # and the new holder then looks for this note first (`note_attempted`).
            if not await self._store.renew(job.id):
                raise _LeaseLost(job.id)
            job = job.moved(JobState.RUNNING, note_attempted=True)
            await self._store.save(job)
            await notes.post(job.ticket_id, answer, skipped, job_id=job.id)
        job = job.moved(JobState.RUNNING, note_posted=True)
        await self._store.save(job)
        return job

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
