"""One cache of Slack's `users.info` answers, for everything the bot reads about a person.

The display name (names of people mentioned in a question, `names.py`) and the locale (the
language to answer in, `user_language.py`) both come from the same `users.info` call
(https://docs.slack.dev/reference/methods/users.info, scope `users:read`; `include_locale`
adds `user.locale`), so it is asked once per person and remembered.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from cachetools import LRUCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class SlackUsers:
    """`users.info` per user id, remembered for the most recent `capacity` people.

    A lookup Slack refuses (no `users:read`, `user_not_found`) is remembered as None and not
    asked again; one that cannot reach Slack is not remembered, so it is tried next time.
    """

    def __init__(self, *, capacity: int = 10_000) -> None:
        self._known: LRUCache[str, dict[str, Any] | None] = LRUCache(maxsize=capacity)
        self._warned = False

    async def info(self, client: AsyncWebClient, user_id: str) -> dict[str, Any] | None:
        """The user object Slack returns for `user_id`, or None when it cannot be had."""
        if user_id in self._known:
            return self._known[user_id]
        try:
            response = await client.users_info(user=user_id, include_locale=True)
        except SlackApiError as error:
            if not self._warned:
                log.warning("cannot read users with users.info (%s)", error.response.get("error"))
                self._warned = True
            self._known[user_id] = None
            return None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            log.warning("could not look up %s with users.info: %r", user_id, error)
            return None
        user = response.get("user")
        self._known[user_id] = dict(user) if isinstance(user, dict) else None
        return self._known[user_id]
