"""The line of requests waiting for the model, usable from any event loop.

The model runs one generation at a time; everyone else waits here and can be
told how many requests are ahead of them. A full line refuses newcomers.
"""

from __future__ import annotations

import asyncio
import math
import threading
from dataclasses import dataclass, field

from bot.errors import EngineBusy


@dataclass(eq=False)
class Ticket:
    request_id: str
    loop: asyncio.AbstractEventLoop
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class WaitingLine:
    """First come, first served. `ahead(ticket) == 0` means it is the ticket's turn.

    Args:
        capacity: most requests in line, the running one included.
    """

    def __init__(self, *, capacity: int) -> None:
        self._capacity = capacity
        self._tickets: list[Ticket] = []
        self._lock = threading.Lock()
        self._seconds_per_request = 10.0  # moving average of generation time

    def __len__(self) -> int:
        with self._lock:
            return len(self._tickets)

    def join(self, request_id: str) -> Ticket:
        """Take a place at the back; raises `EngineBusy` when the line is full."""
        ticket = Ticket(request_id, asyncio.get_running_loop())
        with self._lock:
            if len(self._tickets) >= self._capacity:
                raise EngineBusy(math.ceil(self._seconds_per_request * len(self._tickets)))
            self._tickets.append(ticket)
        return ticket

    def ahead(self, ticket: Ticket) -> int:
        with self._lock:
            return self._tickets.index(ticket)

    async def wait_for_change(self, ticket: Ticket, timeout: float | None) -> bool:
        """Wait until the line moves; False when `timeout` passed first."""
        try:
            await asyncio.wait_for(ticket.changed.wait(), timeout)
        except TimeoutError:
            return False
        ticket.changed.clear()
        return True

    def leave(self, ticket: Ticket, *, served_seconds: float | None = None) -> None:
        with self._lock:
            if ticket in self._tickets:
                self._tickets.remove(ticket)
            if served_seconds is not None:
                self._seconds_per_request = 0.8 * self._seconds_per_request + 0.2 * served_seconds
            waiting = list(self._tickets)
        for other in waiting:  # each waiter lives on its own loop
            other.loop.call_soon_threadsafe(other.changed.set)
