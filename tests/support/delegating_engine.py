"""Base for test engines that wrap the real one and change only how `stream` behaves."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.engine import Engine, EngineState, GenerationRequest, Queued
from bot.engine.protocol import CacheBytes


class DelegatingEngine:
    """Passes everything to `inner`; subclasses override `stream`."""

    def __init__(self, inner: Engine) -> None:
        self._inner = inner

    @property
    def state(self) -> EngineState:
        return self._inner.state

    @property
    def failure(self) -> str | None:
        return self._inner.failure

    @property
    def progress(self) -> str | None:
        return self._inner.progress

    @property
    def recoverable(self) -> bool:
        return self._inner.recoverable

    @property
    def queue_depth(self) -> int:
        return self._inner.queue_depth

    @property
    def context_window(self) -> int:
        return self._inner.context_window

    def count_tokens(self, request: GenerationRequest) -> int:
        return self._inner.count_tokens(request)

    def cache_bytes(self) -> CacheBytes:
        return self._inner.cache_bytes()

    async def start(self) -> None:
        await self._inner.start()

    def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        return self._inner.stream(request)

    async def close(self) -> None:
        await self._inner.close()
