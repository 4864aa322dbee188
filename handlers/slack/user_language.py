"""The language to answer a Slack user in: the channel's setting, else the user's locale."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Language, language_of_locale
from handlers.slack.users import SlackUsers


class UserLanguages:
    """Users' Slack locales, from the one `users.info` cache (`handlers.slack.users`).

    A lookup that fails (no scope, unknown user) answers None, and the bot falls
    back to the language of the question itself.
    """

    def __init__(self, users: SlackUsers | None = None) -> None:
        self._users = users or SlackUsers()

    async def of(self, client: AsyncWebClient, user_id: str) -> Language | None:
        user = await self._users.info(client, user_id) or {}
        return language_of_locale(user.get("locale"))
