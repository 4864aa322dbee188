"""Jira notes: an internal comment carrying the bot's own comment property.

Jira Service Management shows a comment to agents only when its property
`sd.public.comment` says `internal: true`; the same call carries the bot's own
property, which is how the bot knows the `comment_created` event it fires.
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-post
https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post
"""

from __future__ import annotations

from typing import Any

import httpx

from handlers.helpdesks.jira.payload import TICKET_ID

NOTE_PROPERTY = "supportbot.note"
# How many of an issue's comments are searched for a note's property, per page and in all.
_PAGE = 100
_MAX_PAGES = 20


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format body: one paragraph per line."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def _is_note_of(comment: dict[str, Any], job_id: str) -> bool:
    for prop in comment.get("properties") or []:
        if isinstance(prop, dict) and prop.get("key") == NOTE_PROPERTY:
            value = prop.get("value")
            if isinstance(value, dict) and value.get("job") == job_id:
                return True
    return False


class JiraNoteFormat:
    """`POST /rest/api/3/issue/{key}/comment`: an internal comment, marked as the bot's."""

    ticket_format = TICKET_ID

    def request(self, ticket: str, text: str, job_id: str) -> tuple[str, str, dict[str, Any]]:
        body = {
            "body": adf(text),
            "properties": [
                {"key": "sd.public.comment", "value": {"internal": True}},
                {"key": NOTE_PROPERTY, "value": {"job": job_id}},
            ],
        }
        return "POST", f"/rest/api/3/issue/{ticket}/comment", body

    async def has_note(self, client: httpx.AsyncClient, ticket: str, job_id: str) -> bool:
        # Get comments with their properties, newest first; the bot's note carries
        # NOTE_PROPERTY with its job id.
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-get
        start = 0
        for _ in range(_MAX_PAGES):
            response = await client.get(
                f"/rest/api/3/issue/{ticket}/comment",
                params={
                    "startAt": start,
                    "maxResults": _PAGE,
                    "orderBy": "-created",
                    "expand": "properties",
                },
            )
            response.raise_for_status()
            page = response.json()
            comments = [c for c in page.get("comments") or [] if isinstance(c, dict)]
            if any(_is_note_of(comment, job_id) for comment in comments):
                return True
            start += len(comments)
            total = page.get("total")
            if not comments or not isinstance(total, int) or start >= total:
                return False
        return False
