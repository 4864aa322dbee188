"""Names of the people and channels a message mentions, looked up once and remembered."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.markup import Directory
from handlers.slack.users import SlackUsers

log = logging.getLogger(__name__)


class _Remembered:
    """A bounded map of looked-up names; a failed lookup is remembered as None."""

    def __init__(self, capacity: int) -> None:
        self._known: OrderedDict[str, str | None] = OrderedDict()
        self._capacity = capacity

    def get(self, key: str) -> tuple[bool, str | None]:
        if key in self._known:
            self._known.move_to_end(key)
            return True, self._known[key]
        return False, None

    def put(self, key: str, name: str | None) -> None:
        self._known[key] = name
        if len(self._known) > self._capacity:
            self._known.popitem(last=False)


class SlackNames:
    """Display names by `users.info` (`users:read`, through the shared `SlackUsers` cache)
    and channel names by `conversations.info` (`channels:read`, `groups:read`).

    https://docs.slack.dev/reference/methods/users.info (user.profile.display_name,
    user.real_name, user.name) and https://docs.slack.dev/reference/methods/conversations.info
    (channel.name). A lookup that fails (missing scope, unknown id) leaves the id as
    it is, and is not retried for that id.
    """

    def __init__(self, *, capacity: int = 10_000, users: SlackUsers | None = None) -> None:
        self._users = users or SlackUsers(capacity=capacity)
        self._channels = _Remembered(capacity)
        self._private: set[str] = set()  # channels conversations.info said are private
        self._warned: set[str] = set()

    async def directory(
        self,
        client: AsyncWebClient,
        *,
        users: Iterable[str] = (),
        channels: Iterable[str] = (),
        public_channels: Iterable[str] = (),
    ) -> Directory:
        """The names of `users` and `channels` that can be found.

        `public_channels` are named only when Slack says they are public: they come from a
        message shared from elsewhere, whose private channel's name must not reach the asking
        conversation. Private and DM ids (`G…`, `D…`) among them are not looked up at all.
        """
        channel_set = set(channels)
        public_only = {c for c in public_channels if c not in channel_set and c[:1] not in "GD"}
        user_ids, channel_ids = sorted(set(users)), sorted(channel_set | public_only)
        user_names = await asyncio.gather(*(self._user(client, u) for u in user_ids))
        channel_names = await asyncio.gather(*(self._channel(client, c) for c in channel_ids))
        return Directory(
            users={u: n for u, n in zip(user_ids, user_names, strict=True) if n},
            channels={
                c: n
                for c, n in zip(channel_ids, channel_names, strict=True)
                if n and not (c in public_only and c in self._private)
            },
        )

    async def _user(self, client: AsyncWebClient, user_id: str) -> str | None:
        user = await self._users.info(client, user_id) or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("real_name") or user.get("name")
        return str(name) if name else None

    async def _channel(self, client: AsyncWebClient, channel_id: str) -> str | None:
        async def lookup() -> str | None:
            channel = (await client.conversations_info(channel=channel_id)).get("channel") or {}
            if channel.get("is_private", True):  # unknown counts as private
                self._private.add(channel_id)
            name = channel.get("name")
            return str(name) if name else None

        return await self._remembered(self._channels, channel_id, "conversations.info", lookup)

    async def _remembered(
        self,
        store: _Remembered,
        key: str,
        method: str,
        lookup: Callable[[], Awaitable[str | None]],
    ) -> str | None:
        known, name = store.get(key)
        if known:
            return name
        try:
            name = await lookup()
        except SlackApiError as error:
            if method not in self._warned:
                log.warning("cannot read names with %s (%s)", method, error.response.get("error"))
                self._warned.add(method)
            name = None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            # Slack unreachable: answer with the ids now, try the name again next time.
            log.warning("could not look up %s with %s: %r", key, method, error)
            return None
        store.put(key, name)
        return name
