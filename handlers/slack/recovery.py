"""Record Slack questions before the ack; hand back the ones a dead process left unanswered."""

from __future__ import annotations

import asyncio
import json
import logging

from redis.exceptions import RedisError
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.work_log import WorkLog
from handlers.slack.events import is_person_message

log = logging.getLogger(__name__)


async def record_question(work_log: WorkLog, body: bytes) -> None:
    """Before Bolt acknowledges it, note a delivery that may carry a question."""
    try:
        payload = json.loads(body)
    except ValueError:
        return
    if not isinstance(payload, dict) or payload.get("type") != "event_callback":
        return
    event = payload.get("event") or {}
    event_id = payload.get("event_id")
    if not event_id or event.get("type") not in {"app_mention", "message"}:
        return
    if not is_person_message(event):
        return
    try:
        await work_log.record(str(event_id), body.decode())
    except (RedisError, OSError) as error:  # the answer matters more than its insurance
        log.warning("could not record %s before the ack: %s", event_id, error)


async def redeliver_unanswered(
    app: AsyncApp, work_log: WorkLog, *, lease_seconds: float, every_seconds: float
) -> None:
    """Forever: deliveries older than the lease were left by a process that died; run them again."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            stale = await work_log.unfinished(lease_seconds)
        except (RedisError, OSError):
            continue  # Redis is down; the next round tries again
        for event_id, body in stale:
            log.info("answering %s, left unanswered by a process that stopped", event_id)
            await work_log.finish(event_id)  # one more try, not a loop
            # As a Socket Mode request: already verified when it first arrived.
            await app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
