"""Who may handle an escalation, and when the escalation shortcut may be used.

- Take and Resolve: only people in the on-call user group (`ESCALATION_USERGROUP`, its members
  read with `usergroups.users.list` and kept a few minutes), only in the escalation channel,
  only for a thread that is escalated. Without a user group, the escalation channel's members
  are the desk (the channel check still holds).
- The "Escalate to support" message shortcut: only on threads the bot answered, and a few times
  an hour per person, so it cannot page on-call for any message without limit.

Each refusal is a `Message` the listener says to the person alone.
"""

from __future__ import annotations

import logging
import time

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.escalation import CaseStore, ThreadStatus
from bot.conversation.history import HistoryStore
from bot.conversation.turns import Speaker, ThreadKey
from bot.intake.rate_limit import RateLimiter, RateRule
from bot.messages import Message

log = logging.getLogger(__name__)

# usergroups.users.list is Tier 2, 20+ calls a minute
# (https://docs.slack.dev/reference/methods/usergroups.users.list): a few minutes of cache keeps
# a busy desk well inside it, and a change of rota is seen soon enough.
MEMBERS_TTL_SECONDS = 300.0
SHORTCUT_LIMIT = 5  # message-shortcut escalations per person
SHORTCUT_WINDOW_SECONDS = 3600
SHORTCUT_RULE = RateRule("escalate", SHORTCUT_LIMIT, SHORTCUT_WINDOW_SECONDS)


class OnCallGroup:
    """The members of one Slack user group, read with `usergroups.users.list` and cached.

    A lookup Slack refuses (missing `usergroups:read`, `no_such_subteam`,
    `plan_upgrade_required`) or cannot answer counts nobody in: the desk fails closed.
    """

    def __init__(self, usergroup: str, *, ttl: float = MEMBERS_TTL_SECONDS) -> None:
        self.usergroup = usergroup
        self._members: TTLCache[str, frozenset[str]] = TTLCache(
            maxsize=1, ttl=ttl, timer=time.monotonic
        )

    async def includes(self, client: AsyncWebClient, user: str) -> bool:
        members = self._members.get(self.usergroup)
        if members is None:
            try:
                response = await client.usergroups_users_list(usergroup=self.usergroup)
            except SlackApiError as error:
                log.warning(
                    "cannot read the on-call group %s (%s): nobody may take escalations",
                    self.usergroup,
                    error.response.get("error"),
                )
                return False
            members = frozenset(str(u) for u in response.get("users") or ())
            self._members[self.usergroup] = members
        return user in members


class EscalationGuard:
    """The checks in front of the desk's buttons, modal and shortcut.

    Args:
        cases: the threads' escalation states.
        history: the threads' turns (whether the bot answered there).
        limiter: counts shortcut escalations per person.
        channel: the escalation channel id.
        on_call: the on-call group; None lets the channel's members handle cases.
    """

    def __init__(
        self,
        *,
        cases: CaseStore,
        history: HistoryStore,
        limiter: RateLimiter,
        channel: str,
        on_call: OnCallGroup | None,
    ) -> None:
        self._cases = cases
        self._history = history
        self._limiter = limiter
        self._channel = channel
        self._on_call = on_call

    async def refuse_agent(
        self, client: AsyncWebClient, *, thread: ThreadKey, user: str, channel: str | None
    ) -> Message | None:
        """Why `user` may not take or resolve `thread` from `channel`; None when they may.

        `channel` is where the button was pressed; None for a modal (its thread was checked
        when the modal was opened, and is checked again here for its state and the user).
        """
        if channel is not None and channel != self._channel:
            return Message.ESCALATION_WRONG_CHANNEL
        if self._on_call is not None and not await self._on_call.includes(client, user):
            return Message.ESCALATION_NOT_ON_CALL
        if (await self._cases.get(thread)).status is not ThreadStatus.ESCALATED:
            return Message.ESCALATION_NOT_OPEN
        return None

    async def refuse_shortcut(self, *, thread: ThreadKey, user: str) -> Message | None:
        """Why the message shortcut may not escalate `thread` for `user`; None when it may."""
        entries = await self._history.load(thread)
        if not any(e.speaker is Speaker.ASSISTANT for e in entries):
            return Message.ESCALATION_NOT_BOT_THREAD
        decision = await SHORTCUT_RULE.hit(self._limiter, f"{thread.place}:{user}")
        return None if decision.allowed else Message.ESCALATION_RATE_LIMITED
