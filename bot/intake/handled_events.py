"""Remember which Slack messages were handled, so each gets one answer.

Slack retries an event it thinks was not acknowledged, and sends both an
`app_mention` and a `message` for one post that mentions the bot. Whoever claims
a message first answers it; everyone else sees the claim and stays quiet.

A claim is a lease while the answer is being written, and becomes a day-long
record once it is done: if the process that claimed a message dies mid-answer,
the lease runs out and the message can be answered after all (see
`bot/intake/work_log.py`), still never twice.
"""

from __future__ import annotations

from typing import Protocol

DEFAULT_TTL_SECONDS = 24 * 3600
DEFAULT_LEASE_SECONDS = 15 * 60


class HandledEvents(Protocol):
    async def claim(self, key: str) -> bool:
        """True for the first caller with this key (within lease or TTL), False for later ones."""
        ...

    async def complete(self, key: str) -> None:
        """The answer is out: keep the claim for the full TTL."""
        ...
