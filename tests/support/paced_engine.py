"""An engine wrapper that hands out each piece of the real engine's answer slowly.

Tests get time to act mid-answer: delete the question, edit it, shut down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.engine import Engine, GenerationRequest, Queued
from tests.support.delegating_engine import DelegatingEngine


class PacedEngine(DelegatingEngine):
    def __init__(self, inner: Engine, *, seconds_per_piece: float) -> None:
        super().__init__(inner)
        self._delay = seconds_per_piece

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        async for piece in self._inner.stream(request):
            if isinstance(piece, str):
                await asyncio.sleep(self._delay)
            yield piece
