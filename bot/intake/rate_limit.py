"""Per-user and per-channel request rates, counted in fixed windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0  # seconds until the window resets, when not allowed


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window: int) -> RateDecision:
        """Count one request for `key`; allowed while at most `limit` fall in `window` seconds."""
        ...
