"""Bring the index up to date with one source: add, change, remove, skip with a reason.

A document's text is redacted (secrets, personal data) before it is hashed,
chunked or embedded, so nothing the redactor finds is ever stored. Its content
hash decides whether it changed; documents the source no longer lists are
removed. One source is written in one transaction: if listing fails half-way
the previous index of that source stays as it was. One document's failure skips
that document, with its reason in the summary, and never stops the sync.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from bot.errors import KnowledgeSourceError
from bot.knowledge.chunking import Chunk, chunk_document
from bot.knowledge.sources.base import Document, DocumentRef, Source
from bot.knowledge.store import KnowledgeStore, StoreWriter
from bot.safety.redaction import Redactor

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]  # (document id, documents seen so far)


@dataclass
class SyncSummary:
    """What one sync of one source did."""

    source: str
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (document id, reason)
    chunks: int = 0
    seconds: float = 0.0
    error: str | None = None  # the source itself failed; its previous index was kept

    @property
    def documents(self) -> int:
        return self.added + self.changed + self.unchanged


def content_hash(text: str, *, model: str) -> str:
    """A document's hash as indexed: its redacted text and the embedding model, so a new
    model re-embeds everything."""
    digest = hashlib.sha256(model.encode())
    digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@asynccontextmanager
async def _writing(index: KnowledgeStore) -> AsyncIterator[StoreWriter]:
    """`index.writer()` entered and left on a worker thread: taking the store waits while
    another replica syncs into a shared one, and committing is I/O; the event loop
    answers questions meanwhile."""
    manager = index.writer()
    writer = await asyncio.to_thread(manager.__enter__)
    try:
        yield writer
    except BaseException as error:
        if not await asyncio.to_thread(manager.__exit__, type(error), error, error.__traceback__):
            raise
    else:
        await asyncio.to_thread(manager.__exit__, None, None, None)


async def sync_source(
    source: Source,
    index: KnowledgeStore,
    *,
    redactor: Redactor,
    progress: Progress | None = None,
    max_chars: int = 2_000_000,
) -> SyncSummary:
    """Syncs `source` into `index` and says what changed; never raises for a bad document."""
    started = time.monotonic()
    summary = SyncSummary(source.name)
    model = index.embedder.name if index.embedder is not None else "lexical"
    seen: set[str] = set()
    try:
        async with _writing(index) as writer:
            # Read once the writer holds the store: a replica that waited for another's
            # sync of the same source then finds its documents unchanged.
            known = await asyncio.to_thread(index.hashes, source.name)
            async for ref in source.documents():
                if ref.id in seen:
                    continue
                seen.add(ref.id)
                if progress is not None:
                    progress(ref.id, len(seen))
                try:
                    document = await source.fetch(ref)
                except KnowledgeSourceError as error:
                    summary.skipped.append((ref.id, error.reason))
                    continue
                except Exception as error:  # one document never stops the sync
                    log.warning("reading %s of %s failed", ref.id, source.name, exc_info=True)
                    summary.skipped.append((ref.id, f"unexpected error ({type(error).__name__})"))
                    continue
                prepared = await _prepare(document, redactor, model=model, max_chars=max_chars)
                if prepared is None:
                    summary.skipped.append((ref.id, "no text"))
                    continue
                redacted, digest, chunks = prepared
                if known.get(ref.id) == digest:
                    summary.unchanged += 1
                    continue
                await asyncio.to_thread(writer.put, redacted, digest=digest, chunks=chunks)
                summary.chunks += len(chunks)
                if ref.id in known:
                    summary.changed += 1
                else:
                    summary.added += 1
            gone = sorted(set(known) - seen)
            summary.removed = writer.remove(source.name, gone)
    except KnowledgeSourceError as error:
        summary.error = error.reason
        summary.added = summary.changed = summary.removed = summary.chunks = 0
    except Exception as error:  # one failing source leaves the others syncing
        log.exception("syncing %s failed; its previous index is kept", source.name)
        summary.error = f"unexpected error ({type(error).__name__})"
        summary.added = summary.changed = summary.removed = summary.chunks = 0
    summary.seconds = time.monotonic() - started
    return summary


async def _prepare(
    document: Document, redactor: Redactor, *, model: str, max_chars: int
) -> tuple[DocumentRef, str, list[Chunk]] | None:
    """The document as it is indexed: redacted ref, content hash, chunks; None if no text."""
    text = document.text[:max_chars]
    if not text.strip():
        return None
    text = await asyncio.to_thread(redactor.redact, text, count=False)
    title = redactor.redact(document.ref.title, count=False)
    chunks = chunk_document(text)
    if not chunks:
        return None
    digest = content_hash(f"{title}\n{text}", model=model)
    return replace(document.ref, title=title), digest, chunks


async def upsert_document(
    document: Document, index: KnowledgeStore, *, redactor: Redactor, max_chars: int = 2_000_000
) -> bool:
    """Puts one document into `index` now, redacted as a sync would (a resolution the
    moment it is recorded); False when it has no text. Its source's next sync keeps it
    while the source still lists it."""
    model = index.embedder.name if index.embedder is not None else "lexical"
    prepared = await _prepare(document, redactor, model=model, max_chars=max_chars)
    if prepared is None:
        return False
    ref, digest, chunks = prepared

    def write() -> None:
        with index.writer() as writer:
            writer.put(ref, digest=digest, chunks=chunks)

    await asyncio.to_thread(write)
    return True
