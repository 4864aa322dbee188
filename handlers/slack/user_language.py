"""The language to answer a Slack user in: the channel's setting, else the user's locale."""

from __future__ import annotations

import logging
from collections import OrderedDict

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Language, language_of_locale

log = logging.getLogger(__name__)


class UserLanguages:
    """Looks up users' Slack locales (`users.info`, needs `users:read`), remembering them.

    A lookup that fails (no scope, unknown user) answers None, and the bot falls
    back to the language of the question itself.
    """

    def __init__(self, *, capacity: int = 10_000) -> None:
        self._known: OrderedDict[str, Language | None] = OrderedDict()
        self._capacity = capacity
        self._warned = False

    async def of(self, client: AsyncWebClient, user_id: str) -> Language | None:
        if user_id in self._known:
            self._known.move_to_end(user_id)
            return self._known[user_id]
        try:
            response = await client.users_info(user=user_id, include_locale=True)
            user = response.get("user") or {}
            language = language_of_locale(user.get("locale"))
        except SlackApiError as error:
            if not self._warned:
                log.warning("cannot read user locales (%s)", error.response.get("error"))
                self._warned = True
            language = None
        self._known[user_id] = language
        if len(self._known) > self._capacity:
            self._known.popitem(last=False)
        return language
