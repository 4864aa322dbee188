"""What users said about an answer: solved, or not helpful. Kept per thread."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from bot.conversation.turns import ThreadKey


class Verdict(StrEnum):
    SOLVED = "solved"
    NOT_HELPFUL = "not_helpful"


class FeedbackStore(Protocol):
    async def record(self, thread: ThreadKey, user_id: str, verdict: Verdict) -> None:
        """Keep `user_id`'s verdict on the thread (a later click replaces an earlier one)."""
        ...
