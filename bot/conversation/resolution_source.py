"""Past resolutions as a knowledge source, so one index ranks them beside the documents.

With a knowledge index (`KNOWLEDGE_CONFIG`), each resolution the store keeps is a
document of the source `resolutions`: synced with the others, and put into the
index the moment an escalation is resolved (`bot/app/knowledge.py`). Its
visibility is its origin's (`Resolution.index_visibility`): a public channel's
for its workspace, a private channel's or a DM's only for that conversation, and
the diagnosis asks with `conversation_scopes`, so the rule is the one
`Resolution.visible_in` states. Without an index the store's own BM25 answers,
as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from bot.conversation.knowledge import KnowledgeBase, Resolution
from bot.errors import KnowledgeSourceError
from bot.knowledge.sources.base import Document, DocumentRef

SOURCE = "resolutions"
_TITLE_CHARS = 80


def resolution_id(resolution: Resolution) -> str:
    """Stable across syncs: the thread it was resolved in and when."""
    return f"{resolution.thread}@{resolution.resolved_at:.3f}"


def resolution_document(resolution: Resolution) -> Document:
    """A resolution as a document: the question, the fix and what the bot had said,
    each under its own heading so a passage names what it is."""
    first = " ".join(resolution.error_text.split())[:_TITLE_CHARS] or "a question"
    ref = DocumentRef(
        source=SOURCE,
        id=resolution_id(resolution),
        title=f"Past resolution {resolution.date}: {first}",
        url=None,
        updated=datetime.fromtimestamp(resolution.resolved_at, tz=UTC),
        visibility=resolution.index_visibility,
    )
    text = (
        f"# Question\n\n{resolution.error_text}\n\n"
        f"# Resolution\n\n{resolution.resolution}\n\n"
        f"# What the bot had answered\n\n{resolution.diagnosis}\n"
    )
    return Document(ref, text)


class ResolutionsSource:
    """Every resolution `store` keeps, as documents of the source `resolutions`."""

    def __init__(self, store: KnowledgeBase) -> None:
        self._store = store
        self._listed: dict[str, Document] = {}

    @property
    def name(self) -> str:
        return SOURCE

    async def documents(self) -> AsyncIterator[DocumentRef]:
        try:
            resolutions = await self._store.all()
        except Exception as error:  # Redis down: the sync keeps the previous index
            raise KnowledgeSourceError(
                SOURCE, f"the resolutions could not be read ({type(error).__name__})"
            ) from error
        self._listed = {}
        for resolution in resolutions:
            document = resolution_document(resolution)
            self._listed[document.ref.id] = document
            yield document.ref

    async def fetch(self, ref: DocumentRef) -> Document:
        document = self._listed.pop(ref.id, None)
        if document is None:
            raise KnowledgeSourceError(SOURCE, f"{ref.id} is no longer kept")
        return document
