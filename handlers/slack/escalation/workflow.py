"""The escalation workflow in Slack: hand a thread to people, take it, resolve it.

The thread's state machine is `bot.conversation.escalation`; this module does
each step's Slack side (the thread notice, the 🆘 reaction, the desk post with
the summary and screenshots, the helpdesk ticket) in order.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.escalation import CaseStore, ThreadStatus, TicketOpener
from bot.conversation.history import HistoryStore, render_transcript
from bot.conversation.knowledge import Conversation, KnowledgeBase, Resolution
from bot.conversation.summaries import ThreadSummarizer
from bot.conversation.turns import Speaker, ThreadKey
from bot.intake.rate_limit import RateLimiter
from bot.messages import Language, Message, detect_language, say
from bot.observability import catalogue
from bot.observability.metrics import Metrics
from handlers.mrkdwn import escape, markdown_to_mrkdwn
from handlers.slack.escalation.guard import EscalationGuard, OnCallGroup
from handlers.slack.escalation.views import desk_actions

log = logging.getLogger(__name__)

ESCALATED_REACTION = "sos"


class EscalationDesk:
    """Moves threads between the bot and people, and tells both sides.

    Args:
        cases: thread states.
        history: the thread's turns (for the resolution's record and screenshots).
        knowledge: where resolutions are kept for later questions.
        summarizer: writes the hand-over summary.
        channel: the escalation channel id; None turns escalation off.
        usergroup: the on-call user group id to mention, if any.
        metrics: escalations are counted.
        tickets: opens a helpdesk ticket for each escalation, when configured.
        limiter: counts shortcut escalations per person (`guard`).
    """

    def __init__(
        self,
        *,
        cases: CaseStore,
        history: HistoryStore,
        knowledge: KnowledgeBase,
        summarizer: ThreadSummarizer,
        channel: str | None,
        usergroup: str | None,
        metrics: Metrics,
        tickets: TicketOpener | None = None,
        limiter: RateLimiter,
    ) -> None:
        self.cases = cases
        self._history = history
        self._knowledge = knowledge
        self._summarizer = summarizer
        self._channel = channel
        self._usergroup = usergroup
        self._metrics = metrics
        self._tickets = tickets
        # Without a channel, the channel check refuses every agent action: nothing is open.
        self.guard = EscalationGuard(
            cases=cases,
            history=history,
            limiter=limiter,
            channel=channel or "",
            on_call=OnCallGroup(usergroup) if usergroup and _is_usergroup_id(usergroup) else None,
        )

    async def escalate(
        self, client: AsyncWebClient, thread: ThreadKey, *, by: str, language: Language
    ) -> None:
        case = await self.cases.get(thread)
        if case.status is ThreadStatus.ESCALATED:
            await self._in_thread(client, thread, say(Message.ALREADY_ESCALATED, language))
            return
        if self._channel is None:
            await self._in_thread(client, thread, say(Message.ESCALATION_NOT_CONFIGURED, language))
            return
        case = case.escalated(by)
        await self.cases.save(case)
        self._metrics.count(catalogue.ESCALATIONS, event="escalated")
        await self._in_thread(client, thread, say(Message.ESCALATED_STATUS, language, user=by))
        await self._react(client, thread, add=True)
        summary = await self._summarizer.summarize(thread)
        link = await self._permalink(client, thread)
        # The only mention the bot makes on purpose: the configured on-call group.
        group = f"<!subteam^{self._usergroup}> " if _is_usergroup_id(self._usergroup) else ""
        headline = say(
            Message.DESK_POST, group=group, user=by, channel=thread.space, link=escape(link)
        )
        shown_summary = markdown_to_mrkdwn(summary) if summary else "—"
        posted = await client.chat_postMessage(
            channel=self._channel,
            text=f"{headline}\n{shown_summary}",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
                {"type": "section", "text": {"type": "mrkdwn", "text": shown_summary}},
                desk_actions(thread),
            ],
            unfurl_links=False,
        )
        await self.cases.save(replace(case, desk_message_ts=str(posted["ts"])))
        await self._share_screenshots(client, thread, str(posted["ts"]))
        if self._tickets is not None:
            await self._open_ticket(client, thread, str(posted["ts"]), link, summary)

    async def take(self, client: AsyncWebClient, thread: ThreadKey, agent: str) -> None:
        case = (await self.cases.get(thread)).taken(agent)
        await self.cases.save(case)
        self._metrics.count(catalogue.ESCALATIONS, event="taken")
        await self._in_thread(client, thread, say(Message.TAKEN_STATUS, agent=agent))
        await self._update_desk(
            client,
            case.desk_message_ts,
            say(Message.DESK_TAKEN, agent=agent),
            keep_resolve=True,
            thread=thread,
        )

    async def resolve(
        self, client: AsyncWebClient, thread: ThreadKey, agent: str, resolution: str
    ) -> None:
        case = (await self.cases.get(thread)).resolved(agent, resolution)
        await self.cases.save(case)
        self._metrics.count(catalogue.ESCALATIONS, event="resolved")
        entries = await self._history.load(thread)
        questions = [e.text for e in entries if e.speaker is Speaker.USER]
        answers = [e.text for e in entries if e.speaker is Speaker.ASSISTANT]
        await self._knowledge.add(
            Resolution(
                error_text="\n".join(questions)[:2000],
                diagnosis="\n".join(answers)[-2000:],
                resolution=resolution,
                resolved_by=agent,
                thread=thread.as_key(),
                workspace=thread.place,
                channel=thread.space,
                conversation=await conversation_kind(client, thread.space),
            )
        )
        language = detect_language(" ".join(questions))
        await self._in_thread(
            client,
            thread,
            say(Message.RESOLVED_STATUS, language, agent=agent, resolution=escape(resolution)),
        )
        await self._react(client, thread, add=False)
        await self._update_desk(
            client,
            case.desk_message_ts,
            say(Message.DESK_RESOLVED, agent=agent, resolution=escape(resolution)),
            keep_resolve=False,
            thread=thread,
        )

    async def _in_thread(self, client: AsyncWebClient, thread: ThreadKey, text: str) -> None:
        await client.chat_postMessage(channel=thread.space, thread_ts=thread.thread_id, text=text)

    async def _react(self, client: AsyncWebClient, thread: ThreadKey, *, add: bool) -> None:
        method = client.reactions_add if add else client.reactions_remove
        try:
            await method(channel=thread.space, timestamp=thread.thread_id, name=ESCALATED_REACTION)
        except SlackApiError as error:
            log.warning("could not change the 🆘 reaction: %s", error.response.get("error"))

    async def _permalink(self, client: AsyncWebClient, thread: ThreadKey) -> str:
        try:
            response = await client.chat_getPermalink(
                channel=thread.space, message_ts=thread.thread_id
            )
            return str(response["permalink"])
        except SlackApiError:
            return f"https://slack.com/app_redirect?channel={thread.space}"

    async def _share_screenshots(
        self, client: AsyncWebClient, thread: ThreadKey, desk_ts: str
    ) -> None:
        shots = [s for e in await self._history.load(thread) for s in e.screenshots]
        unique = {s.data: s for s in shots}.values()
        for shot in unique:
            try:
                await client.files_upload_v2(
                    channel=self._channel,
                    thread_ts=desk_ts,
                    filename=shot.filename,
                    content=shot.data,
                    title=shot.filename,
                )
            except SlackApiError as error:  # a missing files:write must not lose the escalation
                log.warning("could not share %s: %s", shot.filename, error.response.get("error"))

    async def _open_ticket(
        self, client: AsyncWebClient, thread: ThreadKey, desk_ts: str, link: str, summary: str
    ) -> None:
        assert self._tickets is not None and self._channel is not None
        entries = await self._history.load(thread)
        transcript = render_transcript(entries, assistant="supportbot")
        shots = list({s.data: s for e in entries for s in e.screenshots}.values())
        headline = summary.splitlines()[0][:80] if summary else link
        try:
            ticket = await self._tickets.open(
                subject=f"Escalated from Slack: {headline}",
                transcript=f"{summary}\n\nSlack thread: {link}\n\n{transcript}",
                screenshots=shots,
            )
        except httpx.HTTPError as error:  # the Slack escalation stands even if the helpdesk fails
            log.warning("could not open a helpdesk ticket for %s: %s", thread.as_key(), error)
            return
        self._metrics.count(catalogue.ESCALATIONS, event="ticket_opened")
        await client.chat_postMessage(
            channel=self._channel,
            thread_ts=desk_ts,
            text=say(Message.TICKET_OPENED, ticket=escape(str(ticket))),
        )

    async def _update_desk(
        self,
        client: AsyncWebClient,
        ts: str | None,
        status: str,
        *,
        keep_resolve: bool,
        thread: ThreadKey,
    ) -> None:
        if ts is None or self._channel is None:
            return
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": status}},
        ]
        if keep_resolve:
            blocks.append(desk_actions(thread, take=False))
        await client.chat_update(channel=self._channel, ts=ts, text=status, blocks=blocks)


def _is_usergroup_id(value: str | None) -> bool:
    """A Slack user group id (`S…`), so the configured mention cannot carry anything else."""
    return value is not None and re.fullmatch(r"S[A-Z0-9]{2,20}", value) is not None


async def conversation_kind(client: AsyncWebClient, channel: str) -> Conversation:
    """Public, private or a direct message, as conversations.info says (`is_im`, `is_mpim`,
    `is_private`: https://docs.slack.dev/reference/methods/conversations.info); UNKNOWN
    when it cannot be told, which the visibility rule treats as private."""
    if channel.startswith("D"):  # Slack's ids of direct messages start with D
        return Conversation.DIRECT
    try:
        response = await client.conversations_info(channel=channel)
    except (SlackApiError, httpx.HTTPError):
        log.warning("could not tell what kind of conversation %s is; kept private", channel)
        return Conversation.UNKNOWN
    info = response.get("channel") or {}
    if info.get("is_im") or info.get("is_mpim"):
        return Conversation.DIRECT
    if info.get("is_private") is True:
        return Conversation.PRIVATE
    if info.get("is_private") is False:
        return Conversation.PUBLIC
    return Conversation.UNKNOWN
