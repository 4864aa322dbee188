"""The knowledge base as the diagnosis asks it: search off the event loop, with a floor,
timed, and remembering the questions nothing matched (`supportbot knowledge gaps`)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.knowledge.index import Floor, KnowledgeIndex
from bot.knowledge.passages import Passage


@dataclass(frozen=True)
class Gap:
    """A question the knowledge base had nothing for."""

    query: str
    channel: str
    at: float


class IndexRetriever:
    """Retrieves from a `KnowledgeIndex` for one conversation.

    Args:
        index: the index every source is synced into.
        limit: passages per question at most.
        floor: passages matching more weakly are left out.
        observe: called with (seconds, matched) after each search, for metrics.
        gaps: how many unmatched questions are remembered.
    """

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        limit: int = 4,
        floor: Floor | None = None,
        gaps: int = 200,
        observe: Callable[[float, bool], None] | None = None,
    ) -> None:
        self._index = index
        self._limit = limit
        self._floor = floor or Floor()
        self._gaps: deque[Gap] = deque(maxlen=gaps)
        self._observe = observe

    @property
    def gaps(self) -> list[Gap]:
        """The latest unmatched questions, newest first."""
        return list(reversed(self._gaps))

    async def retrieve(
        self, query: str, *, channel: str, sources: frozenset[str] | None = None
    ) -> list[Passage]:
        started = time.perf_counter()
        found = await asyncio.to_thread(
            self._index.search,
            query,
            channel=channel,
            sources=sources,
            limit=self._limit,
            floor=self._floor,
        )
        if not found and query.strip():
            self._gaps.append(Gap(query[:500], channel, time.time()))
        if self._observe is not None:
            self._observe(time.perf_counter() - started, bool(found))
        return found
