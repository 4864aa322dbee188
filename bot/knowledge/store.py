"""What retrieval, sync and the commands ask of a knowledge store, whichever it is.

Two stores satisfy it: `KnowledgeIndex` (one SQLite file per replica, the default)
and `PostgresStore` (one database every replica shares, `KNOWLEDGE_STORE`). Both
write a source inside one transaction and search with the same fusion and floor,
so the choice changes where the index lives, not what it answers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from bot.knowledge.chunking import Chunk
from bot.knowledge.embedding import Embedder
from bot.knowledge.index import Floor, Mode
from bot.knowledge.passages import Passage
from bot.knowledge.sources.base import DocumentRef


class StoreWriter(Protocol):
    """Writes inside one transaction of `KnowledgeStore.writer()`."""

    def put(self, ref: DocumentRef, *, digest: str, chunks: Sequence[Chunk]) -> None:
        """The document `ref` with these chunks, replacing what was indexed for it."""
        ...

    def remove(self, source: str, ids: Sequence[str]) -> int:
        """Drops these documents of `source` and their chunks; how many there were."""
        ...


class KnowledgeStore(Protocol):
    """The documents of every source, chunked, searchable by words and by meaning."""

    @property
    def embedder(self) -> Embedder | None: ...

    def close(self) -> None: ...

    def hashes(self, source: str) -> dict[str, str]:
        """Each indexed document of `source` by id, with the hash it was indexed at."""
        ...

    def counts(self) -> dict[str, tuple[int, int]]:
        """Documents and chunks per source."""
        ...

    def last_synced(self) -> dict[str, float]:
        """When each source was last written to (unix time)."""
        ...

    def record_gap(self, query: str, *, channel: str, keep: int = 1000) -> None:
        """Remembers a question nothing matched (already redacted)."""
        ...

    def gaps(self, *, limit: int = 50) -> list[tuple[float, str, str]]:
        """The latest questions nothing matched: (unix time, channel, query), newest first."""
        ...

    def writer(self) -> AbstractContextManager[StoreWriter]:
        """One transaction: everything written inside it is seen together, or not at all."""
        ...

    def search(
        self,
        query: str,
        *,
        channel: str | None,
        sources: Collection[str] | None = None,
        limit: int = 5,
        mode: str = Mode.HYBRID,
        floor: Floor | None = None,
        scopes: Collection[str] = (),
    ) -> list[Passage]:
        """The passages `channel` may be answered from that best match `query`, best first;
        `scopes` are further names the asker's conversation answers to (a workspace's
        `T123:*` for its public resolutions, `T123:C456` for a channel's own)."""
        ...
