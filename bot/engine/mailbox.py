"""Handing tokens from the model's thread to the event loop: once per step, not per token.

Each request's consumer reads an asyncio queue on its event loop. Waking a
loop from another thread (`call_soon_threadsafe`) costs a lock and a write
to its self-pipe; doing it once per token made the host's share of a decode
step grow with the batch. `deliver` hands a whole step's items to each loop
in one call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable


class Mailbox:
    """A thread-safe way into one request's `inbox`; a closed loop cancels the request."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        inbox: asyncio.Queue[object],
        cancelled: threading.Event,
    ) -> None:
        self.loop = loop
        self.inbox = inbox
        self.cancelled = cancelled

    def __call__(self, item: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.inbox.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()


def deliver(items: Iterable[tuple[Callable[[object], None], object]]) -> None:
    """Send every (send, item) pair, waking each event loop once for all of its mailboxes."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Mailbox, object]]] = {}
    for send, item in items:
        if isinstance(send, Mailbox):
            by_loop.setdefault(send.loop, []).append((send, item))
        else:
            send(item)
    for loop, batch in by_loop.items():
        try:
            loop.call_soon_threadsafe(_put_all, batch)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            for mailbox, _ in batch:
                mailbox.cancelled.set()


def _put_all(batch: list[tuple[Mailbox, object]]) -> None:
    for mailbox, item in batch:
        mailbox.inbox.put_nowait(item)
