"""Thread history: what was said in a thread, screenshots included.

Screenshots are kept so a follow-up can show the model the same image without
downloading it again. The stores are in `bot.stores.history`.
"""

from __future__ import annotations

from typing import Protocol

from bot.conversation.turns import HistoryEntry, Speaker, ThreadKey


class HistoryStore(Protocol):
    """Where thread history lives. Implementations: Redis, and in-memory without Redis."""

    async def append(self, thread: ThreadKey, entry: HistoryEntry) -> None: ...

    async def load(self, thread: ThreadKey) -> list[HistoryEntry]:
        """The thread's entries, oldest first; empty for an unknown thread."""
        ...

    async def has_thread(self, thread: ThreadKey) -> bool | None:
        """Whether the bot has taken part in this thread (and it has not expired);
        None when the store cannot tell (it is unreachable)."""
        ...


def render_transcript(entries: list[HistoryEntry], *, assistant: str) -> str:
    """The thread as plain text, one paragraph a turn: `User: …` and `{assistant}: …`."""
    return "\n\n".join(
        f"{'User' if e.speaker is Speaker.USER else assistant}: {e.text}" for e in entries
    )
