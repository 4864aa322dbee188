"""Where documents come from: each source lists its documents and fetches one as text."""

from bot.knowledge.sources.base import Document, DocumentRef, Source, Visibility

__all__ = ["Document", "DocumentRef", "Source", "Visibility"]
