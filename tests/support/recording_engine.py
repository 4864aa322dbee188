"""An engine wrapper that keeps every request it forwards, so tests can see the prompt."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

from bot.engine import Engine, GenerationRequest, Queued
from tests.support.delegating_engine import DelegatingEngine


class RecordingEngine(DelegatingEngine):
    """Delegates to a real engine and records each `GenerationRequest` it is given."""

    def __init__(self, inner: Engine) -> None:
        super().__init__(inner)
        self._lock = threading.Lock()
        self._requests: list[GenerationRequest] = []

    @property
    def requests(self) -> list[GenerationRequest]:
        with self._lock:
            return list(self._requests)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        with self._lock:
            self._requests.append(request)
        async for piece in self._inner.stream(request):
            yield piece
