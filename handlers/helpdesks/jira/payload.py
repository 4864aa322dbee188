"""Jira's bodies: its webhook and the automation rule's "Send web request".

- Webhook (`jira:issue_created`, `comment_created`, `jira:issue_updated` when attachments were
  added): only the attachments that belong to that event.
  https://developer.atlassian.com/cloud/jira/platform/webhooks/
- Jira Service Management automation, "Send web request" (`/webhooks/jira-automation`):
  the body "Issue data (Jira REST API format)" `{"issue": {"key": "SD-1", "fields": {…}}}`,
  "Issue data (Automation format)" `{"key": "SD-1", "fields": {…}}`, or a custom body of
  either shape with `"comment": {"body": "…"}` added (the comment is then the question).
  https://support.atlassian.com/cloud-automation/docs/issue-data-jira-format-payload-for-send-web-request-action/
  https://support.atlassian.com/cloud-automation/docs/issue-data-automation-format-payload-for-send-web-request/
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field

from bot.intake.jobs import JobAttachment
from bot.messages import Message
from handlers.webhooks.ids import TicketFormat
from handlers.webhooks.payloads import (
    AUTOMATION_KIND,
    Lenient,
    NotATicket,
    TicketEvent,
    UnreadableTicket,
    file_entries,
    objects,
    quoted,
    read_model,
    rendered,
)

# An issue key (`PROJ-123`, project keys are upper-case letters, digits and `_`, starting with a
# letter) or the numeric issue id.
# https://support.atlassian.com/jira-cloud-administration/docs/edit-a-projects-details/
TICKET_ID = TicketFormat(
    "jira", re.compile(r"[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,18}|[1-9][0-9]{0,18}")
)

SHAPE = "Jira's webhook body: webhookEvent and issue {key, fields}"
AUTOMATION_SHAPE = 'Issue data: {"issue": {"key": "SD-1", "fields": {...}}}'
EVENTS = frozenset({"jira:issue_created", "comment_created", "jira:issue_updated"})

_CONTENT = re.compile(r"/rest/api/[23]/attachment/content/[0-9]+")
_SECURE = re.compile(r"/secure/attachment/([0-9]+)/[^/]+")
# A file shown or linked in a wiki-markup comment: `!name.png!`, `!name.png|thumbnail!`, `[^name]`.
_WIKI_FILE = re.compile(r"!([^!|\n]+)(?:\|[^!\n]*)?!|\[\^([^\]\n]+)\]")
_SAME_UPLOAD_SECONDS = 60


class Fields(Lenient):
    summary: Any = None
    description: Any = None
    attachment: list[Any] | None = None
    reporter: Any = None


class Issue(Lenient):
    key: Any = None
    self_url: Any = Field(default=None, alias="self")
    fields: Fields | None = None


class Comment(Lenient):
    id: Any = None
    body: Any = None
    author: Any = None
    created: Any = None


class Changelog(Lenient):
    items: list[Any] | None = None


class Webhook(Lenient):
    webhookEvent: str
    issue: Issue
    user: Any = None
    comment: Comment | None = None
    changelog: Changelog | None = None


class AutomationComment(Lenient):
    body: Any = None


class Automation(Issue):
    """Both "Issue data" formats: the issue at the top (Automation format) or under `issue`."""

    issue: Issue | None = None
    comment: AutomationComment | Any = None


def _no_redirect(url: str) -> str:
    """Jira's documented download form that answers with the bytes instead of a 303 to the media
    host (`redirect=false`); the media host must not get Jira credentials. The older
    `/secure/attachment/{id}/{name}` links become that form too, so they are downloaded with
    the API credentials from Jira's own host.
    https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/#api-rest-api-3-attachment-content-id-get
    """
    parts = urlsplit(url)
    if secure := _SECURE.fullmatch(parts.path):
        return f"{parts.scheme}://{parts.netloc}/rest/api/3/attachment/content/{secure[1]}?redirect=false"
    if not _CONTENT.fullmatch(parts.path) or "redirect=" in parts.query:
        return url
    return url + ("&" if parts.query else "?") + "redirect=false"


def _adf_text(node: Any) -> Iterator[str]:
    """Text and file names of an Atlassian Document Format body, in order."""
    if isinstance(node, dict):
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            yield node["text"]
        elif node.get("type") == "media":
            alt = (node.get("attrs") or {}).get("alt")
            if isinstance(alt, str):
                yield f"[^{alt}]"
        for child in node.get("content") or []:
            yield from _adf_text(child)
        if node.get("type") in {"paragraph", "heading", "listItem", "codeBlock"}:
            yield "\n"


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(_adf_text(value)).strip()
    return str(value or "")


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def _jira_file(item: dict[str, Any]) -> JobAttachment:
    [file] = file_entries([item], ("filename",), ("content",), ("size",))
    return (
        JobAttachment(file.name, _no_redirect(file.url), file.size, file.unavailable)
        if file.url
        else file
    )


def jira_attachments(items: Any) -> tuple[JobAttachment, ...]:
    """An issue's `fields.attachment` as Jira's API lists it, in the no-redirect download form."""
    return tuple(_jira_file(item) for item in objects(items))


def _account(user: Any) -> str | None:
    return rendered(user.get("accountId")) if isinstance(user, dict) else None


def read(body: Any) -> TicketEvent:
    """The issue, comment or new attachments a Jira webhook delivery is about."""
    event = body.get("webhookEvent") if isinstance(body, dict) else None
    if event not in EVENTS:
        raise NotATicket(f"event {quoted(event)} is not a new issue, comment or attachment")
    hook = read_model(Webhook, body, shape=SHAPE)
    key = TICKET_ID.check(hook.issue.key)
    fields = hook.issue.fields or Fields()
    files = objects(fields.attachment)
    summary = _text(fields.summary)
    if event == "comment_created":
        if hook.comment is None:
            raise UnreadableTicket("comment", shape=SHAPE)
        text = _text(hook.comment.body)
        author = _account(hook.comment.author)
        chosen = _comment_files(files, text, author, hook.comment.created)
        return TicketEvent(
            key,
            text,
            tuple(_jira_file(f) for f in chosen),
            actor_id=author,
            comment_id=rendered(hook.comment.id),
            kind="comment",
        )
    if event == "jira:issue_updated":
        return _new_attachments(hook, key, files, summary)
    text = "\n\n".join(part for part in (summary, _text(fields.description)) if part)
    return TicketEvent(
        key,
        text,
        tuple(_jira_file(f) for f in files),
        actor_id=_account(hook.user) or _account(fields.reporter),
        kind="ticket",
    )


def _comment_files(
    files: list[dict[str, Any]], text: str, author: str | None, created: Any
) -> list[dict[str, Any]]:
    """The issue's attachments that belong to this comment, not every file the issue has:
    those the comment shows or links by name, and those its author uploaded with it."""
    named = {a or b for a, b in _WIKI_FILE.findall(text)}
    when = _moment(created)
    chosen = []
    for item in files:
        uploaded = _moment(item.get("created"))
        with_it = (
            author is not None
            and _account(item.get("author")) == author
            and when is not None
            and uploaded is not None
            and abs((when - uploaded).total_seconds()) <= _SAME_UPLOAD_SECONDS
        )
        if item.get("filename") in named or with_it:
            chosen.append(item)
    return chosen


def _new_attachments(
    hook: Webhook, key: str, files: list[dict[str, Any]], summary: str
) -> TicketEvent:
    items = objects(hook.changelog.items if hook.changelog else None)
    added = {
        str(item["to"]): rendered(item.get("toString")) or "attachment"
        for item in items
        if (item.get("fieldId") == "attachment" or item.get("field") == "Attachment")
        and item.get("to")
    }
    if not added:
        raise NotATicket("an issue update without new attachments")
    by_id = {str(f.get("id")): f for f in files}
    origin = urlsplit(str(hook.issue.self_url or ""))
    chosen = []
    for attachment_id, name in added.items():
        if attachment_id in by_id:
            chosen.append(_jira_file(by_id[attachment_id]))
        elif origin.scheme in {"https", "http"} and attachment_id.isdigit():
            url = f"{origin.scheme}://{origin.netloc}/rest/api/3/attachment/content/{attachment_id}"
            chosen.append(JobAttachment(name, _no_redirect(url)))
        else:
            chosen.append(JobAttachment(name, "", unavailable=Message.REASON_NO_LINK.value))
    return TicketEvent(
        key, summary, tuple(chosen), actor_id=_account(hook.user), kind="attachments"
    )


def read_automation(body: Any) -> TicketEvent:
    """A token-only delivery: its issue key and text are read, never its attachments. Anyone
    holding the token could name another issue's file there; the issue's own attachments are
    listed from Jira by key when the job runs (`JiraApi.complete`)."""
    data = read_model(Automation, body, shape=AUTOMATION_SHAPE)
    issue: Issue = data.issue if data.issue is not None else data
    key = TICKET_ID.check(issue.key)
    fields = issue.fields or Fields()
    comment = data.comment
    text = _text(comment.body) if isinstance(comment, AutomationComment) else ""
    if not text:
        parts = (_text(fields.summary), _text(fields.description))
        text = "\n\n".join(part for part in parts if part)
    return TicketEvent(key, text, (), kind=AUTOMATION_KIND)
