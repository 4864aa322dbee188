"""What every helpdesk's body reader shares: the ticket it yields, its two refusals, and the
helpers for placeholder-rendered values and attachment lists.

Each vendor's reader, with its pydantic models of the bodies the vendor documents, is in its
own package (`handlers/helpdesks/<vendor>/payload.py`); the accepted shapes per vendor and
version are listed in docs/helpdesks.md ("Accepted bodies").

An attachment the body names but gives no usable link for is kept, marked unavailable, so
the note says the file could not be read instead of leaving it out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.intake.jobs import JobAttachment
from bot.messages import Message

# The kind of a job made by a token-only delivery (Jira automation): its attachments are listed
# from Jira, and its result is read only with JOBS_READ_TOKEN.
AUTOMATION_KIND = "automation"


class NotATicket(ValueError):
    """The body is valid JSON but not a ticket event we handle (answered 2xx "ignored")."""


def quoted(value: object, *, limit: int = 40) -> str:
    """A sender's value for an answer or a log line: a string cut to `limit` characters and
    quoted, anything else by its type alone, so a 1 MB event type is not echoed back whole."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    return "null" if value is None else f"of type {type(value).__name__}"


class UnreadableTicket(ValueError):
    """The delivery is for the bot (an event it subscribes to) but its body cannot be read.

    Answered 4xx, naming the field and the documented shape to send, so the vendor's webhook
    log shows a failure instead of a success that left the customer without an answer.
    """

    def __init__(self, field: str, problem: str = "is missing", *, shape: str) -> None:
        self.field = field
        self.shape = shape
        super().__init__(f"{field} {problem}; send {shape}")


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: str
    text: str
    attachments: tuple[JobAttachment, ...]
    actor_id: str | None = None  # who wrote it (or updated the ticket), to recognise the bot
    comment_id: str | None = None
    kind: str = ""  # what happened: "ticket", "comment", "comment_event", "attachments", "note"


class Lenient(BaseModel):
    """A vendor object: the fields the bot reads are typed, every other field is kept as sent
    (vendors add fields between versions)."""

    model_config = ConfigDict(extra="allow", frozen=True)


Model = TypeVar("Model", bound=BaseModel)

_PROBLEMS = {
    "missing": "is missing",
    "model_type": "is not an object",
    "dict_type": "is not an object",
    "list_type": "is not a list",
}


def read_model(model: type[Model], body: Any, *, shape: str) -> Model:
    """`body` as `model`; a body that does not fit is one `UnreadableTicket` naming the first
    field that is wrong (its dotted path, as the vendor's docs name it)."""
    if not isinstance(body, dict):
        raise UnreadableTicket("the body", "is not a JSON object", shape=shape)
    try:
        return model.model_validate(body)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        # A union's or a list's member adds its own step (`ZendeskComment`, `0`) to the path.
        path = [str(step) for step in first["loc"] if not str(step)[:1].isupper()]
        field = ".".join(path) or "the body"
        problem = _PROBLEMS.get(first["type"], f"is malformed ({first['msg']})")
        raise UnreadableTicket(field, problem, shape=shape) from None


_TAG = re.compile(r"<[^>]+>")


def plain(markup: str) -> str:
    """Intercom sends HTML; the model gets text."""
    return html.unescape(_TAG.sub(" ", markup.replace("<br>", "\n").replace("</p>", "\n"))).strip()


def rendered(value: Any) -> str | None:
    """A placeholder's value as text; None when absent, empty or left unrendered."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text if text and "{{" not in text and "{%" not in text else None


def objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a list (other members are not parts of anything)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def member(value: Any) -> dict[str, Any]:
    """`value` when it is an object (an author, say), else an empty one."""
    return value if isinstance(value, dict) else {}


def _download_link(value: Any) -> str | None:
    text = rendered(value)
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
        name = next((n for key in names if (n := rendered(item.get(key)))), "attachment")
        url = next((u for key in urls if (u := _download_link(item.get(key)))), None)
        size = next((s for key in sizes if isinstance(s := item.get(key), int)), None)
        if url is None:
            found.append(JobAttachment(name, "", size, Message.REASON_NO_LINK.value))
        else:
            found.append(JobAttachment(name, url, size))
    return tuple(found)
