"""Requests counted per subject in fixed windows: one limiter, configured per use.

Every limit of the bot is a `RateRule` checked against the one `RateLimiter` (Redis when
`REDIS_URL` is set, so replicas share the count): questions per user and per channel, the
escalation shortcut per person, and chat.startStream calls per workspace (Slack's tier).
"""

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


@dataclass(frozen=True)
class RateRule:
    """One use of the limiter: at most `limit` requests per subject in `window` seconds.

    `scope` names the use and begins each subject's key, so two rules never share a count;
    a `limit` of 0 turns the rule off.
    """

    scope: str
    limit: int
    window: int = 60

    async def hit(self, limiter: RateLimiter, subject: str) -> RateDecision:
        """Count one request of `subject` under this rule."""
        if self.limit <= 0:
            return RateDecision(True)
        return await limiter.hit(f"{self.scope}:{subject}", limit=self.limit, window=self.window)
