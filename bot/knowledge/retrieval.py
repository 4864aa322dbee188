"""The knowledge base as the diagnosis asks it: search off the event loop, with a floor,
timed, and remembering the questions nothing matched in the index itself, so
`supportbot knowledge gaps` lists them from any process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.knowledge.index import Floor
from bot.knowledge.passages import Passage
from bot.knowledge.store import KnowledgeStore


class IndexRetriever:
    """Retrieves from a knowledge store (SQLite or PostgreSQL) for one conversation.

    Args:
        index: the index every source is synced into.
        limit: passages per question at most.
        floor: passages matching more weakly are left out.
        observe: called with (seconds, matched) after each search, for metrics.
    """

    def __init__(
        self,
        index: KnowledgeStore,
        *,
        limit: int = 4,
        floor: Floor | None = None,
        observe: Callable[[float, bool], None] | None = None,
    ) -> None:
        self._index = index
        self._limit = limit
        self._floor = floor or Floor()
        self._observe = observe

    @property
    def floor(self) -> Floor:
        """What a passage must reach to be used."""
        return self._floor

    async def retrieve(
        self,
        query: str,
        *,
        channel: str,
        sources: frozenset[str] | None = None,
        scopes: tuple[str, ...] = (),
    ) -> list[Passage]:
        started = time.perf_counter()
        found = await asyncio.to_thread(
            self._index.search,
            query,
            channel=channel,
            sources=sources,
            limit=self._limit,
            floor=self._floor,
            scopes=scopes,
        )
        if not found and query.strip():
            await asyncio.to_thread(self._index.record_gap, query, channel=channel)
        if self._observe is not None:
            self._observe(time.perf_counter() - started, bool(found))
        return found
