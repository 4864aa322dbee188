"""The small typed values that travel between the layers: where, who, what was said."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.messages import Language, Message


class Speaker(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


TICKETS = "ticket"
"""Where helpdesk tickets live in a `ThreadKey`: no Slack channel id has this form."""


@dataclass(frozen=True)
class ThreadKey:
    """One conversation: a thread in a channel of a workspace (or a helpdesk ticket)."""

    workspace: str
    channel: str
    thread_ts: str

    @classmethod
    def for_ticket(cls, provider: str, ticket_id: str) -> ThreadKey:
        """The conversation of a helpdesk ticket: the provider is its workspace, and
        every ticket of a provider lives in one place, so ids never meet Slack's."""
        return cls(workspace=provider, channel=TICKETS, thread_ts=ticket_id)

    def as_key(self) -> str:
        return f"{self.workspace}:{self.channel}:{self.thread_ts}"


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
