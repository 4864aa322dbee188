"""The small typed values that travel between the layers: where, who, what was said."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.messages import Language, Message


class Speaker(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


TICKETS = "ticket"
"""The space of every helpdesk ticket in a `ThreadKey`: no Slack channel id has this form."""


@dataclass(frozen=True)
class ThreadKey:
    """One conversation, wherever it is held: a thread in a space of a place.

    A Slack thread is (workspace, channel, the thread's first message ts); a helpdesk ticket
    is (the helpdesk, `TICKETS`, the ticket id). Build one with `for_slack` or `for_ticket`.

    Args:
        place: where the conversation is held: a Slack workspace (team id) or a helpdesk.
        space: the part of that place it is in: a Slack channel, or `TICKETS`.
        thread_id: the conversation within the space: a thread's ts, or a ticket id.
    """

    place: str
    space: str
    thread_id: str

    @classmethod
    def for_slack(cls, team: str, channel: str, thread_ts: str) -> ThreadKey:
        """The conversation of a Slack thread."""
        return cls(place=team, space=channel, thread_id=thread_ts)

    @classmethod
    def for_ticket(cls, helpdesk: str, ticket_id: str) -> ThreadKey:
        """The conversation of a helpdesk ticket: every ticket of a helpdesk lives in one
        space, so its ids never meet Slack's."""
        return cls(place=helpdesk, space=TICKETS, thread_id=ticket_id)

    def as_key(self) -> str:
        """The conversation in stored keys; Slack threads and tickets keep the strings they
        were stored under before the key had this shape."""
        return f"{self.place}:{self.space}:{self.thread_id}"


@dataclass(frozen=True)
class AttachmentRef:
    """A file a user attached, not yet downloaded.

    `unavailable` is set when the transport already knows the file cannot be read
    (Slack hid it, say); the diagnosis then reports it instead of downloading.
    """

    filename: str
    url: str
    media_type: str = ""
    size: int | None = None
    unavailable: Message | None = None


@dataclass(frozen=True)
class Screenshot:
    """A downloaded, validated image, kept in its original encoding."""

    filename: str
    media_type: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class TextFile:
    """A downloaded attachment that is text (a log, a snippet, a config file), decoded."""

    filename: str
    text: str
    encoding: str


class AttachmentKind(StrEnum):
    IMAGE = "image"
    TEXT = "text"
    UNREAD = "unread"


@dataclass(frozen=True)
class AttachmentNote:
    """How one attachment of a user turn reached the model, in the order the user gave them.

    `note` is for the model, in English: why the file was not read, what was cut from a
    text file, or how far an image was shrunk. `text` is a text file's content as the
    model reads it (redacted and cut to its budget); empty for images and unread files.
    """

    filename: str
    kind: AttachmentKind
    note: str = ""
    text: str = ""


@dataclass(frozen=True)
class SkippedAttachment:
    """An attachment that was not shown to the model, and the sentence saying why."""

    filename: str
    reason: str


@dataclass(frozen=True)
class Turn:
    """One user message to diagnose, as the transport received it.

    `language` is set when the channel's config or the user's locale decides it;
    otherwise the language of the text is used.
    """

    thread: ThreadKey
    user_id: str
    text: str
    message_ts: str
    attachments: tuple[AttachmentRef, ...] = ()
    language: Language | None = None
    source_id: str | None = None  # the transport's id of the delivery (Slack's event_id)


@dataclass(frozen=True)
class HistoryEntry:
    """One stored turn of a thread, with the screenshots it carried.

    `attachments` lists every attachment of a user turn in the user's order (images,
    text files and the ones that could not be read); empty for turns without files.
    """

    speaker: Speaker
    text: str
    screenshots: tuple[Screenshot, ...] = field(default_factory=tuple)
    attachments: tuple[AttachmentNote, ...] = field(default_factory=tuple)
