"""Read each helpdesk's webhook body, in the shapes the vendor documents, into what to diagnose.

- Zendesk, two ways:
  - a trigger or automation that notifies a webhook with a JSON body built from placeholders
    (the body and the trigger we ship are in `deploy/zendesk/`; the API's own key names
    `body`, `file_name`, `content_url` are read too). Placeholders render as strings, so ids
    arrive as `"501"` and booleans as `"true"`; `updater_id` (`{{current_user.id}}`) is who
    made the update, which is how the bot knows its own.
    https://support.zendesk.com/hc/en-us/articles/4408886858138-Zendesk-placeholders-reference
  - an event webhook subscribed to `zen:event-type:ticket.comment_added`; its comment has no
    attachments, so they are read from the ticket's comments when the job runs.
    https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/
- Intercom (topics `conversation.user.created`, `conversation.user.replied`,
  `conversation.admin.noted`): the latest part of the conversation from the customer (or the
  latest note), HTML read as text.
  https://developers.intercom.com/docs/references/webhooks/webhook-models
- Jira (`jira:issue_created`, `comment_created`, `jira:issue_updated` when attachments were
  added): only the attachments that belong to that event.
  https://developer.atlassian.com/cloud/jira/platform/webhooks/
- Jira Service Management automation, "Send web request" (`/webhooks/jira-automation`):
  the body "Issue data (Jira REST API format)" `{"issue": {"key": "SD-1", "fields": {…}}}`,
  "Issue data (Automation format)" `{"key": "SD-1", "fields": {…}}`, or a custom body of
  either shape with `"comment": {"body": "…"}` added (the comment is then the question).
  https://support.atlassian.com/cloud-automation/docs/issue-data-jira-format-payload-for-send-web-request-action/
  https://support.atlassian.com/cloud-automation/docs/issue-data-automation-format-payload-for-send-web-request/
- Generic: `{"ticket_id": "…", "text": "…", "attachments": [{"name": "…", "url": "…"}]}`

An attachment the body names but gives no usable link for is kept, marked unavailable, so
the note says the file could not be read instead of leaving it out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from bot.intake.jobs import JobAttachment
from bot.messages import Message
from handlers.webhooks.ids import ticket_id
from handlers.webhooks.signatures import Provider


class NotATicket(ValueError):
    """The body is valid JSON but not a ticket event we handle (answered 2xx "ignored")."""


class UnreadableTicket(ValueError):
    """The delivery is for the bot (an event it subscribes to) but its body cannot be read.

    Answered 4xx, naming the field and the documented shape to send, so the vendor's webhook
    log shows a failure instead of a success that left the customer without an answer.
    """

    def __init__(self, provider: Provider, field: str, problem: str = "is missing") -> None:
        self.provider = provider
        self.field = field
        self.shape = SHAPES[provider]
        super().__init__(f"{field} {problem}; send {self.shape}")


# The documented shape each route reads (docs/helpdesks.md, "Accepted bodies").
SHAPES = {
    Provider.ZENDESK: "the body in deploy/zendesk/trigger-body.json",
    Provider.INTERCOM: (
        "a notification_event whose data.item is a conversation with source (API 2.x) "
        "or conversation_message (1.x)"
    ),
    Provider.JIRA: "Jira's webhook body: webhookEvent and issue {key, fields}",
    Provider.JIRA_AUTOMATION: 'Issue data: {"issue": {"key": "SD-1", "fields": {...}}}',
    Provider.GENERIC: '{"ticket_id": "...", "text": "...", "attachments": [{"name", "url"}]}',
}


# The kind of a job made by a token-only delivery (Jira automation): its attachments are listed
# from Jira, and its result is read only with JOBS_READ_TOKEN.
AUTOMATION_KIND = "automation"


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: str
    text: str
    attachments: tuple[JobAttachment, ...]
    actor_id: str | None = None  # who wrote it (or updated the ticket), to recognise the bot
    comment_id: str | None = None
    kind: str = ""  # what happened: "ticket", "comment", "comment_event", "attachments", "note"


_TAG = re.compile(r"<[^>]+>")


def _plain(markup: str) -> str:
    """Intercom sends HTML; the model gets text."""
    return html.unescape(_TAG.sub(" ", markup.replace("<br>", "\n").replace("</p>", "\n"))).strip()


def _rendered(value: Any) -> str | None:
    """A placeholder's value as text; None when absent, empty or left unrendered."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text if text and "{{" not in text and "{%" not in text else None


def _download_link(value: Any) -> str | None:
    text = _rendered(value)
    if text is None or urlsplit(text).scheme not in {"https", "http"}:
        return None
    return text


def file_entries(
    items: Any, names: tuple[str, ...], urls: tuple[str, ...], sizes: tuple[str, ...]
) -> tuple[JobAttachment, ...]:
    """Attachment entries under any of the given key names; unusable ones marked unavailable.

    Args:
        items: the list from the body (anything else is one unreadable entry).
        names, urls, sizes: the keys each vendor uses, first match wins.
    """
    if items is None or items == []:
        return ()
    if not isinstance(items, list):
        # e.g. a placeholder that rendered as text instead of a list
        return (JobAttachment("attachments", "", unavailable=Message.REASON_NO_LINK.value),)
    found = []
    for item in items:
        if not isinstance(item, dict):
            found.append(JobAttachment("attachment", "", unavailable=Message.REASON_NO_LINK.value))
            continue
        name = next((n for key in names if (n := _rendered(item.get(key)))), "attachment")
        url = next((u for key in urls if (u := _download_link(item.get(key)))), None)
        size = next((s for key in sizes if isinstance(s := item.get(key), int)), None)
        if url is None:
            found.append(JobAttachment(name, "", size, Message.REASON_NO_LINK.value))
        else:
            found.append(JobAttachment(name, url, size))
    return tuple(found)


# Routes whose every delivery is for the bot: a trigger, an automation rule or a sender the
# admin pointed at it. Intercom and Jira say in the body which event it is.
_ALWAYS_FOR_THE_BOT = {Provider.ZENDESK, Provider.JIRA_AUTOMATION, Provider.GENERIC}


def parse(provider: Provider, body: Any) -> TicketEvent:
    """The ticket in `body`.

    Raises:
        NotATicket: an event the bot does not answer (a status change, another topic).
        UnreadableTicket: an event for the bot whose body lacks a field it needs.
        BadTicketId: the ticket id is missing or not in its vendor's format.
    """
    if not isinstance(body, dict):
        if provider in _ALWAYS_FOR_THE_BOT:
            raise UnreadableTicket(provider, "the body", "is not a JSON object")
        raise NotATicket("the body is not a JSON object")
    try:
        return _PARSERS[provider](body)
    except (KeyError, TypeError, AttributeError) as error:
        # Shapes are checked field by field below; this is the last net for an odd value.
        raise UnreadableTicket(provider, "a field", f"is malformed ({error})") from None


def _dict(value: Any, provider: Provider, field: str) -> dict[str, Any]:
    """`value` when it is an object; else `UnreadableTicket` naming `field`."""
    if value is None:
        raise UnreadableTicket(provider, field)
    if not isinstance(value, dict):
        raise UnreadableTicket(provider, field, "is not an object")
    return value


# --- Zendesk -------------------------------------------------------------------------------


def _zendesk(body: dict[str, Any]) -> TicketEvent:
    kind = body.get("type")
    if isinstance(kind, str) and kind.startswith("zen:event-type:"):
        return _zendesk_event(body, kind)
    ticket = _dict(body.get("ticket"), Provider.ZENDESK, "ticket")
    comment = ticket.get("latest_comment")
    if isinstance(comment, dict):
        text = next(
            (t for key in ("value", "body", "plain_body") if (t := _rendered(comment.get(key)))),
            None,
        )
    else:  # `{{ticket.latest_comment}}` renders the comment as text
        text, comment = _rendered(comment), {}
    files = file_entries(
        comment.get("attachments"), ("filename", "file_name"), ("url", "content_url"), ("size",)
    )
    return TicketEvent(
        ticket_id(Provider.ZENDESK, ticket.get("id")),
        text or _rendered(ticket.get("description")) or "",
        files,
        actor_id=_rendered(ticket.get("updater_id")) or _rendered(comment.get("author_id")),
        comment_id=_rendered(comment.get("id")),
        kind="comment",
    )


def _zendesk_event(body: dict[str, Any], kind: str) -> TicketEvent:
    if kind != "zen:event-type:ticket.comment_added":
        raise NotATicket(f"event {kind!r} is not a new comment")
    detail = _dict(body.get("detail") or {}, Provider.ZENDESK, "detail")
    subject = str(body.get("subject") or "")
    number = detail.get("id") or (subject.removeprefix("zen:ticket:") if subject else None)
    event = _dict(body.get("event"), Provider.ZENDESK, "event")
    comment = _dict(event.get("comment"), Provider.ZENDESK, "event.comment")
    author: dict[str, Any] = comment["author"] if isinstance(comment.get("author"), dict) else {}
    return TicketEvent(
        ticket_id(Provider.ZENDESK, number),
        _rendered(comment.get("body")) or "",
        (),
        actor_id=_rendered(author.get("id")),
        comment_id=_rendered(comment.get("id")),
        kind="comment_event",
    )


# --- Intercom ------------------------------------------------------------------------------

_CUSTOMERS = {"user", "lead", "contact"}


def _intercom(body: dict[str, Any]) -> TicketEvent:
    topic = body.get("topic")
    if topic not in {
        "conversation.user.created",
        "conversation.user.replied",
        "conversation.admin.noted",
    }:
        raise NotATicket(f"topic {topic!r} is not a customer message or a note")
    data = _dict(body.get("data"), Provider.INTERCOM, "data")
    item = _dict(data.get("item"), Provider.INTERCOM, "data.item")
    listing = _dict(
        item.get("conversation_parts") or {}, Provider.INTERCOM, "data.item.conversation_parts"
    )
    parts = listing.get("conversation_parts") or []
    if not isinstance(parts, list):
        raise UnreadableTicket(
            Provider.INTERCOM, "data.item.conversation_parts.conversation_parts", "is not a list"
        )
    parts = [p for p in parts if isinstance(p, dict)]
    if topic == "conversation.admin.noted":
        notes = [p for p in parts if p.get("part_type") == "note"]
        if not notes:
            raise NotATicket("a noted conversation without a note")
        latest, kind = notes[-1], "note"
    else:
        from_customer = [p for p in parts if _author(p).get("type") in _CUSTOMERS]
        latest = from_customer[-1] if from_customer else _first_message(item)
        kind = "comment" if from_customer else "ticket"
    author = latest.get("author") if isinstance(latest.get("author"), dict) else {}
    return TicketEvent(
        ticket_id(Provider.INTERCOM, item.get("id")),
        _plain(str(latest.get("body") or "")),
        file_entries(latest.get("attachments"), ("name",), ("url",), ("filesize",)),
        actor_id=_rendered(author.get("id")),
        comment_id=_rendered(latest.get("id")),
        kind=kind,
    )


def _author(part: dict[str, Any]) -> dict[str, Any]:
    author = part.get("author")
    return author if isinstance(author, dict) else {}


def _first_message(item: dict[str, Any]) -> dict[str, Any]:
    """The conversation's opening message: `source` in API 2.x, `conversation_message` in 1.x
    (same `id`, `body`, `author`, `attachments`).
    https://developers.intercom.com/docs/references/2.0/rest-api/conversations/conversation-model
    https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/update-your-api-version/api-changelog
    """
    for key in ("source", "conversation_message"):
        if (found := item.get(key)) is not None:
            return _dict(found, Provider.INTERCOM, f"data.item.{key}")
    raise UnreadableTicket(Provider.INTERCOM, "data.item.source (or conversation_message in 1.x)")


# --- Jira ----------------------------------------------------------------------------------

_CONTENT = re.compile(r"/rest/api/[23]/attachment/content/[0-9]+")
_SECURE = re.compile(r"/secure/attachment/([0-9]+)/[^/]+")
# A file shown or linked in a wiki-markup comment: `!name.png!`, `!name.png|thumbnail!`, `[^name]`.
_WIKI_FILE = re.compile(r"!([^!|\n]+)(?:\|[^!\n]*)?!|\[\^([^\]\n]+)\]")
_SAME_UPLOAD_SECONDS = 60


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
    return tuple(_jira_file(item) for item in _items(items, Provider.JIRA, "fields.attachment"))


def _account(user: Any) -> str | None:
    return _rendered(user.get("accountId")) if isinstance(user, dict) else None


def _jira(body: dict[str, Any]) -> TicketEvent:
    event = body.get("webhookEvent")
    if event not in {"jira:issue_created", "comment_created", "jira:issue_updated"}:
        raise NotATicket(f"event {event!r} is not a new issue, comment or attachment")
    issue = _dict(body.get("issue"), Provider.JIRA, "issue")
    key = ticket_id(Provider.JIRA, issue.get("key"))
    fields = _dict(issue.get("fields") or {}, Provider.JIRA, "issue.fields")
    files = _items(fields.get("attachment"), Provider.JIRA, "issue.fields.attachment")
    summary = _text(fields.get("summary"))
    if event == "comment_created":
        comment = _dict(body.get("comment"), Provider.JIRA, "comment")
        text = _text(comment.get("body"))
        author = _account(comment.get("author"))
        return TicketEvent(
            key,
            text,
            tuple(
                _jira_file(f) for f in _comment_files(files, text, author, comment.get("created"))
            ),
            actor_id=author,
            comment_id=_rendered(comment.get("id")),
            kind="comment",
        )
    if event == "jira:issue_updated":
        return _jira_new_attachments(body, issue, key, files, summary)
    text = "\n\n".join(part for part in (summary, _text(fields.get("description"))) if part)
    return TicketEvent(
        key,
        text,
        tuple(_jira_file(f) for f in files),
        actor_id=_account(body.get("user")) or _account(fields.get("reporter")),
        kind="ticket",
    )


def _items(value: Any, provider: Provider, field: str) -> list[dict[str, Any]]:
    """The objects of a list field; an absent list is empty, a non-list is unreadable."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnreadableTicket(provider, field, "is not a list")
    return [item for item in value if isinstance(item, dict)]


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


def _jira_new_attachments(
    body: dict[str, Any], issue: dict[str, Any], key: str, files: list[dict[str, Any]], summary: str
) -> TicketEvent:
    changelog = _dict(body.get("changelog") or {}, Provider.JIRA, "changelog")
    items = _items(changelog.get("items"), Provider.JIRA, "changelog.items")
    added = {
        str(item["to"]): _rendered(item.get("toString")) or "attachment"
        for item in items
        if isinstance(item, dict)
        and (item.get("fieldId") == "attachment" or item.get("field") == "Attachment")
        and item.get("to")
    }
    if not added:
        raise NotATicket("an issue update without new attachments")
    by_id = {str(f.get("id")): f for f in files}
    origin = urlsplit(str(issue.get("self") or ""))
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
        key, summary, tuple(chosen), actor_id=_account(body.get("user")), kind="attachments"
    )


# --- Jira automation -----------------------------------------------------------------------


def _jira_automation(body: dict[str, Any]) -> TicketEvent:
    """A token-only delivery: its issue key and text are read, never its attachments. Anyone
    holding the token could name another issue's file there; the issue's own attachments are
    listed from Jira by key when the job runs (`JiraApi.complete`)."""
    automation = Provider.JIRA_AUTOMATION
    issue = _dict(body["issue"], automation, "issue") if "issue" in body else body
    key = ticket_id(Provider.JIRA, issue.get("key"))
    fields = _dict(issue.get("fields") or {}, automation, "issue.fields")
    comment = body.get("comment")
    text = _text(comment.get("body")) if isinstance(comment, dict) else ""
    if not text:
        parts = (_text(fields.get("summary")), _text(fields.get("description")))
        text = "\n\n".join(part for part in parts if part)
    return TicketEvent(key, text, (), kind=AUTOMATION_KIND)


# --- Generic -------------------------------------------------------------------------------


def _generic(body: dict[str, Any]) -> TicketEvent:
    return TicketEvent(
        ticket_id(Provider.GENERIC, body.get("ticket_id")),
        str(body.get("text") or ""),
        file_entries(body.get("attachments"), ("name",), ("url",), ("size",)),
        kind="ticket",
    )


_PARSERS = {
    Provider.ZENDESK: _zendesk,
    Provider.INTERCOM: _intercom,
    Provider.JIRA: _jira,
    Provider.GENERIC: _generic,
    Provider.JIRA_AUTOMATION: _jira_automation,
}
