"""The turn and attachment value types, kept importable from their old home.

They live in `bot.turns`, below every package that passes them around, so that
`bot.safety` and `bot.attachments` can use them without importing the
conversation core (which imports both).
"""

from bot.turns import (
    TICKETS,
    AttachmentKind,
    AttachmentNote,
    AttachmentRef,
    HistoryEntry,
    Screenshot,
    SkippedAttachment,
    Speaker,
    TextFile,
    ThreadKey,
    Turn,
)

__all__ = [
    "TICKETS",
    "AttachmentKind",
    "AttachmentNote",
    "AttachmentRef",
    "HistoryEntry",
    "Screenshot",
    "SkippedAttachment",
    "Speaker",
    "TextFile",
    "ThreadKey",
    "Turn",
]
