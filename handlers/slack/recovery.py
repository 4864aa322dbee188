"""Record Slack questions before the ack; hand back the ones a dead process left unanswered."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.errors import StoreUnavailable
from bot.intake.work_log import WorkLog
from bot.safety.redaction import Redactor
from handlers.slack.events import is_person_message

log = logging.getLogger(__name__)


REPLAYED = "supportbot_replayed"


def question_event_id(payload: Any) -> str | None:
    """The event id of a delivery that may carry a question for the bot, else None."""
    if not isinstance(payload, dict) or payload.get("type") != "event_callback":
        return None
    event = payload.get("event") or {}
    event_id = payload.get("event_id")
    if not event_id or event.get("type") not in {"app_mention", "message"}:
        return None
    return str(event_id) if is_person_message(event) else None


def redacted_body(body: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """What the work log keeps of a delivery: the event with its text and file names
    redacted, and the parts that repeat the text (rich-text blocks, unfurls, previews)
    dropped. A replay needs only the text and the files."""
    # Bolt hands the middleware the parsed body; the copy leaves Bolt's untouched.
    kept: dict[str, Any] = json.loads(json.dumps(body))
    event = kept.get("event")
    if not isinstance(event, dict):
        return kept
    for repeated in ("blocks", "attachments", "previous_message"):
        event.pop(repeated, None)
    if isinstance(event.get("text"), str):
        event["text"] = redactor.redact(event["text"], count=False)
    for file in event.get("files") or ():
        if not isinstance(file, dict):
            continue
        for key in ("preview", "preview_highlight", "plain_text", "preview_plain_text"):
            file.pop(key, None)
        names = [file[key] for key in ("name", "title") if isinstance(file.get(key), str)]
        if any(redactor.findings(name) for name in names):
            # Slack's file URLs carry the file name: with a secret in it, they are not
            # kept, and a replay reports the file as not shared rather than keep it.
            for key in [k for k in file if k.startswith(("url_", "thumb_", "permalink"))]:
                del file[key]
        for key in ("name", "title"):
            if isinstance(file.get(key), str):
                file[key] = redactor.redact(file[key], count=False)
    return kept


def register_recording(
    app: AsyncApp, work_log: WorkLog, redactor: Redactor, *, budget_seconds: float = 1.0
) -> None:
    """A Bolt middleware: it runs before Bolt acknowledges the event, over HTTP and
    Socket Mode alike, and records question-bearing deliveries first.

    Slack wants the ack within 3 seconds (https://docs.slack.dev/apis/events-api/#responding),
    while a Redis that hangs may take its socket timeout times its retries; so recording gets
    `budget_seconds` and is given up past it: the question is still answered, only not
    insured against a crash."""

    async def record_before_ack(
        body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        event_id = question_event_id(body)
        if event_id is not None and not context.get(REPLAYED):

            async def record() -> None:
                # Redaction is linear, but a long question is still time the ack need not
                # wait on the event loop for: it runs on a worker thread, inside the budget.
                kept = await asyncio.to_thread(redacted_body, body, redactor)
                await work_log.record(event_id, json.dumps(kept))

            try:
                await asyncio.wait_for(record(), budget_seconds)
            except TimeoutError:
                log.warning(
                    "recording %s took over %.1fs: acknowledged unrecorded",
                    event_id,
                    budget_seconds,
                )
            except StoreUnavailable as error:  # the answer matters more than its insurance
                log.warning("could not record %s before the ack: %s", event_id, error)
        await next()

    app.middleware(record_before_ack)


async def redeliver_unanswered(
    app: AsyncApp, work_log: WorkLog, *, lease_seconds: float, every_seconds: float
) -> None:
    """Forever: deliveries older than the lease were left by a process that died; run them again."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            stale = await work_log.unfinished(lease_seconds)
        except StoreUnavailable:
            continue  # Redis is down; the next round tries again
        for event_id, body in stale:
            log.info("answering %s, left unanswered by a process that stopped", event_id)
            await work_log.finish(event_id)  # one more try, not a loop
            # As a Socket Mode request: already verified when it first arrived.
            request = AsyncBoltRequest(body=body, mode="socket_mode", context={REPLAYED: True})
            await app.async_dispatch(request)
