"""Slack questions recorded before they are acknowledged, so a crash loses none.

A Bolt middleware records each question-bearing event (by its event id) before
Bolt acknowledges it, over HTTP and Socket Mode; handling it removes the record. Events still there
after a lease (longer than any answer may take) belonged to a process that
died: they are handed to the listeners once more, whose dedup claim has run
out by then, so the question is answered exactly once.
"""

from __future__ import annotations

from typing import Protocol


class WorkLog(Protocol):
    """Raises `bot.errors.StoreUnavailable` when the store behind it does not answer."""

    async def record(self, key: str, body: str) -> None: ...

    async def finish(self, key: str) -> None: ...

    async def unfinished(self, older_than_seconds: float) -> list[tuple[str, str]]:
        """(key, body) of work recorded longer ago than `older_than_seconds`."""
        ...
