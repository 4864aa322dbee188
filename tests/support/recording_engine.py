"""An engine wrapper that keeps every request it forwards, so tests can see the prompt."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

from bot.engine import Engine, EngineState, GenerationRequest, Queued


class RecordingEngine:
    """Delegates to a real engine and records each `GenerationRequest` it is given."""

    def __init__(self, inner: Engine) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._requests: list[GenerationRequest] = []

    @property
    def requests(self) -> list[GenerationRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def state(self) -> EngineState:
        return self._inner.state

    @property
    def failure(self) -> str | None:
        return self._inner.failure

    async def start(self) -> None:
        await self._inner.start()

    @property
    def context_window(self) -> int:
        return self._inner.context_window

    def count_tokens(self, request: GenerationRequest) -> int:
        return self._inner.count_tokens(request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        with self._lock:
            self._requests.append(request)
        async for piece in self._inner.stream(request):
            yield piece

    async def close(self) -> None:
        await self._inner.close()
