"""The one interface every knowledge source implements, and what it hands the index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Visibility:
    """Who may be answered from a document: everyone, or only the named channels.

    `channels is None` means every conversation of the workspace; otherwise only
    conversations whose channel id is in the set (private runbooks stay private).
    """

    channels: frozenset[str] | None = None

    @classmethod
    def everyone(cls) -> Visibility:
        return cls(channels=None)

    @classmethod
    def only(cls, channels: frozenset[str] | set[str] | list[str]) -> Visibility:
        return cls(channels=frozenset(channels))

    def allows(self, channel: str) -> bool:
        return self.channels is None or channel in self.channels


@dataclass(frozen=True)
class DocumentRef:
    """A document as its source lists it, before its text is fetched.

    `id` is stable across syncs (a path inside a folder, a vendor's article id);
    `version` changes whenever the content may have (a content hash, or the
    vendor's `updated_at`), so a sync fetches only what changed.
    """

    source: str
    id: str
    title: str
    url: str | None
    updated: datetime | None
    visibility: Visibility
    version: str = ""


@dataclass(frozen=True)
class Document:
    """One document's text, its headings kept as Markdown `#` lines for chunking."""

    ref: DocumentRef
    text: str


class Source(Protocol):
    """A place documents come from. Errors are raised as `KnowledgeSourceError`."""

    @property
    def name(self) -> str: ...

    def documents(self) -> AsyncIterator[DocumentRef]:
        """Every document the source holds now, each once."""
        ...

    async def fetch(self, ref: DocumentRef) -> Document:
        """The text of one listed document."""
        ...
