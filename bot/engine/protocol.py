"""The seam between the bot and whatever runs the model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.engine.request import GenerationRequest, Queued


class EngineState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True)
class CacheBytes:
    """Memory an engine holds for answers beyond the weights (zero where a server holds it)."""

    prefixes: int = 0
    """Threads' computed prompts kept for their follow-ups."""
    decode: int = 0
    """The running answers' key/value slots."""


class EngineStatus:
    """The state and failure reason every engine reports; engines start LOADING."""

    def __init__(self) -> None:
        self._state = EngineState.LOADING
        self._failure: str | None = None
        self._progress: str | None = None

    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def failure(self) -> str | None:
        """Why the engine is FAILED, in one line; None otherwise."""
        return self._failure

    @property
    def progress(self) -> str | None:
        """While LOADING, what is holding it up (a download being retried); None otherwise."""
        return self._progress

    @property
    def recoverable(self) -> bool:
        """Whether a FAILED engine may still become ready by itself (a server coming back)."""
        return False


class Engine(Protocol):
    """Runs the model; the only part of the bot that touches it.

    Example:
        >>> async for text in engine.stream(GenerationRequest(messages=...)):
        ...     print(text, end="")
    """

    @property
    def state(self) -> EngineState: ...

    @property
    def failure(self) -> str | None:
        """Why the engine is FAILED, in one line; None otherwise."""
        ...

    @property
    def progress(self) -> str | None:
        """While LOADING, what is holding it up (a download being retried); None otherwise."""
        ...

    @property
    def recoverable(self) -> bool:
        """Whether a FAILED engine may still become ready by itself (a server coming back)."""
        ...

    async def start(self) -> None:
        """Load the model; returns when it is ready or has failed (see `state`)."""
        ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        """Yield `Queued` while the request waits, then the answer's text as it is produced.

        Closing the iterator cancels the request. Raises `EngineBusy` when the line
        is full, `QueueTimeout` and `GenerationTimeout` past the request's deadlines.
        """
        ...

    @property
    def queue_depth(self) -> int:
        """Requests waiting for the model or using it."""
        ...

    @property
    def context_window(self) -> int:
        """Most tokens a prompt and its answer may take together."""
        ...

    def count_tokens(self, request: GenerationRequest) -> int:
        """Prompt tokens of `request` as the model sees them, image tokens included."""
        ...

    def cache_bytes(self) -> CacheBytes:
        """Memory held for cached prefixes and running answers, for the metrics."""
        ...

    async def close(self) -> None: ...
