"""The bot's own Intercom notes echoed back, and attachment links read fresh.

The bot's own: the note's author is the admin `INTERCOM_ADMIN_ID`, or it is the bot's note.
Intercom's attachment links are signed and expire, so they are read again before the download.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx

from bot.intake.jobs import Job, JobAttachment
from handlers.helpdesks.base import is_bot_note
from handlers.webhooks.ids import segment
from handlers.webhooks.payloads import file_entries

log = logging.getLogger(__name__)


class IntercomApi:
    """The bot's admin and fresh attachment links on Intercom."""

    def __init__(self, client: httpx.AsyncClient, *, admin_id: str) -> None:
        self._client = client
        self._admin_id = admin_id

    async def is_own_write(self, job: Job) -> bool:
        return is_bot_note(job.text) or (job.kind == "note" and job.actor_id == self._admin_id)

    async def complete(self, job: Job) -> Job:
        """Attachment links read again just before the download: Intercom's CDN links are
        signed and expire, and a job can run long after its delivery (a queue, a restart)."""
        if job.comment_id is None or not any(a.url for a in job.attachments):
            return job
        try:
            # https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/retrieveconversation
            response = await self._client.get(f"/conversations/{segment(job.ticket_id)}")
            response.raise_for_status()
            item = response.json()
        except (httpx.HTTPError, ValueError) as error:
            log.warning("could not refresh intercom links of %s: %s", job.ticket_id, error)
            return job
        parts = ((item.get("conversation_parts") or {}).get("conversation_parts") or []) + [
            item.get("source") or {}
        ]
        for part in parts:
            if isinstance(part, dict) and str(part.get("id")) == job.comment_id:
                fresh = {
                    f.name: f
                    for f in file_entries(
                        part.get("attachments"), ("name",), ("url",), ("filesize",)
                    )
                }
                return replace(job, attachments=tuple(_fresher(a, fresh) for a in job.attachments))
        return job


def _fresher(old: JobAttachment, fresh: dict[str, JobAttachment]) -> JobAttachment:
    new = fresh.get(old.name)
    if new is None or not new.url:
        return old
    return replace(old, url=new.url, unavailable=None)
