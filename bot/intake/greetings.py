"""Who was greeted lately, so each person is greeted once a day, whichever replica sees them.

Slack sends `app_home_opened` each time someone opens the app's Messages tab; a greeting
on every opening, or again from each replica and after each restart, would be noise.
"""

from __future__ import annotations

from typing import Protocol

GREETING_INTERVAL_SECONDS = 24 * 3600


class Greetings(Protocol):
    async def first_today(self, workspace: str, user: str) -> bool:
        """True for the first call for this person within the interval, False for later
        ones; the first call also records the greeting.

        Raises:
            StoreUnavailable: the record could not be read (Redis down).
        """
        ...
