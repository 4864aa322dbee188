"""An engine wrapper that hands out each piece of the real engine's answer slowly.

It holds the real engine's place in line while it does, so tests can see a
second request wait, and have time to delete a question mid-answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.engine import Engine, EngineState, GenerationRequest, Queued


class PacedEngine:
    def __init__(self, inner: Engine, *, seconds_per_piece: float) -> None:
        self._inner = inner
        self._delay = seconds_per_piece

    @property
    def state(self) -> EngineState:
        return self._inner.state

    @property
    def failure(self) -> str | None:
        return self._inner.failure

    @property
    def context_window(self) -> int:
        return self._inner.context_window

    def count_tokens(self, request: GenerationRequest) -> int:
        return self._inner.count_tokens(request)

    async def start(self) -> None:
        await self._inner.start()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        async for piece in self._inner.stream(request):
            if isinstance(piece, str):
                await asyncio.sleep(self._delay)
            yield piece

    async def close(self) -> None:
        await self._inner.close()
