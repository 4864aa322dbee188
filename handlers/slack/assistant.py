"""Slack's AI-app surface, in both of its experiences.

The agent messaging experience (the manifest's `agent_view`, the default since 2026): the
conversation is the app's Messages tab. Opening it sends `app_home_opened` with
`tab == "messages"`, which replaces `assistant_thread_started`
(https://docs.slack.dev/ai/migrating-to-agent-messaging); the bot greets the person once a day
and sets suggested prompts for the conversation *without* `thread_ts`, which in an agent app
"will cause the call to silently fail"
(https://docs.slack.dev/reference/methods/assistant.threads.setSuggestedPrompts). Direct
messages have no `assistant_app_thread` root; each question starts its own thread, which its
first question names (the stored docs do not say whether `assistant.threads.setTitle` differs
in the agent experience; a refusal is logged and loses nothing).

The assistant experience (`assistant_view`), for apps created before:

When someone opens the bot in Slack's assistant container, Slack sends
`assistant_thread_started`: the bot greets them and offers suggested prompts
(`assistant.threads.setSuggestedPrompts`). `assistant_thread_context_changed` says
which channel they are looking at; it is kept for the thread. Their questions are
direct-message thread replies and take the usual way (listeners.py), where the first
one also names the thread (`assistant.threads.setTitle`). As in Slack's AI-app guide,
https://docs.slack.dev/ai/developing-ai-apps, and Bolt's `AsyncAssistant`.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.async_store import (
    AsyncAssistantThreadContextStore,
)
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import (
    AsyncSetSuggestedPrompts,
)
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import (
    is_assistant_thread_context_changed_event,
    is_assistant_thread_started_event,
)
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.errors import StoreUnavailable
from bot.intake.greetings import Greetings
from bot.messages import Language, Message
from bot.safety.redaction import Redactor
from handlers.slack.user_language import UserLanguages

log = logging.getLogger(__name__)

TITLE_LENGTH = 60  # a thread title is a line in the history list, not the whole question
_PROMPTS = (
    (Message.PROMPT_EXPLAIN_TITLE, Message.PROMPT_EXPLAIN),
    (Message.PROMPT_BUILD_TITLE, Message.PROMPT_BUILD),
    (Message.PROMPT_HUMAN_TITLE, Message.PROMPT_HUMAN),
)


class RecentThreadContexts(AsyncAssistantThreadContextStore):
    """The channel each assistant thread was opened beside, for the most recent threads.

    Kept in memory: a context only helps while its thread is active, and Slack sends it
    again when it changes.
    """

    def __init__(self, *, capacity: int = 10_000) -> None:
        self._contexts: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()
        self._capacity = capacity

    async def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        self._contexts[(channel_id, thread_ts)] = dict(context)
        self._contexts.move_to_end((channel_id, thread_ts))
        while len(self._contexts) > self._capacity:
            self._contexts.popitem(last=False)

    async def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        context = self._contexts.get((channel_id, thread_ts))
        return AssistantThreadContext(context) if context else None


class ThreadEventsAssistant(AsyncAssistant):
    """Bolt's Assistant for the two thread events only: every message, also one in an
    assistant thread, goes on to the listeners, which answer it like any direct message
    (with streaming, Stop and deletion)."""

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Any
    ) -> BoltResponse | None:
        body = req.body
        if is_assistant_thread_started_event(body) or is_assistant_thread_context_changed_event(
            body
        ):
            return await super().async_process(req=req, resp=resp, next=next)
        return await next()  # type: ignore[no-any-return]


def suggested_prompts(language: Language) -> list[dict[str, str]]:
    return [
        {"title": messages.say(title, language), "message": messages.say(message, language)}
        for title, message in _PROMPTS
    ]


def thread_title(question: str) -> str:
    """The thread's title: the question's first line, whitespace collapsed, cut short."""
    line = next((part for part in question.splitlines() if part.strip()), "")
    line = re.sub(r"\s+", " ", line).strip()
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


# Only the first line's start can show in a title; redacting more would only cost time.
_TITLE_SOURCE_LIMIT = 1_000


async def name_thread(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str,
    question: str,
    *,
    redactor: Redactor,
) -> None:
    """Title an assistant thread after its first question; Slack refusing it loses nothing.

    The title is shown in the user's thread history and kept by Slack, so it is redacted like
    everything else the bot writes from a user's words (a pasted `xoxb-…` stays out of it).
    """
    line = next((part for part in question.splitlines() if part.strip()), "")
    title = thread_title(redactor.redact(line[:_TITLE_SOURCE_LIMIT], count=False))
    if not title:
        return
    try:
        await client.assistant_threads_setTitle(
            channel_id=channel, thread_ts=thread_ts, title=title
        )
    except SlackApiError as error:  # not an assistant thread, or no assistant:write
        log.info("could not title thread %s: %s", thread_ts, error.response.get("error"))


async def should_greet(greetings: Greetings, workspace: str, user: str) -> bool:
    """Whether to greet: the store says; when it cannot tell, greet (one greeting too
    many is better than none, and the opening must not fail)."""
    try:
        return await greetings.first_today(workspace, user)
    except StoreUnavailable as error:
        log.warning("cannot tell whether %s was greeted today: %s", user, error)
        return True


def register_assistant(
    app: AsyncApp, languages: UserLanguages, greetings: Greetings
) -> ThreadEventsAssistant:
    """Greet new conversations with suggested prompts, in either experience; keep the
    assistant threads' context. `greetings` remembers, across replicas, who was greeted
    today in the Messages tab (app_home_opened comes on every opening)."""
    assistant = ThreadEventsAssistant(thread_context_store=RecentThreadContexts())

    @app.event("app_home_opened")
    async def greet_in_messages_tab(
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        # https://docs.slack.dev/reference/events/app_home_opened: `tab` is "home" or
        # "messages"; `channel` is the app's DM with `user`.
        if event.get("tab") != "messages" or not event.get("channel") or not event.get("user"):
            return
        user, channel = str(event["user"]), str(event["channel"])
        workspace = str(context.team_id or body.get("team_id") or "")
        if not await should_greet(greetings, workspace, user):
            return
        language = await languages.of(client, user) or Language.ENGLISH
        await client.chat_postMessage(
            channel=channel, text=messages.say(Message.ASSISTANT_GREETING, language)
        )
        try:  # no thread_ts: in the agent experience it makes the call fail silently
            await client.assistant_threads_setSuggestedPrompts(
                channel_id=channel,
                prompts=suggested_prompts(language),
                title=messages.say(Message.PROMPTS_TITLE, language),
            )
        except SlackApiError as error:  # without assistant:write the greeting still stands
            log.warning("could not suggest prompts: %s", error.response.get("error"))

    @assistant.thread_started
    async def greet(
        payload: dict[str, Any],
        say: AsyncSay,  # Bolt injects its utilities by these names
        set_suggested_prompts: AsyncSetSuggestedPrompts,
        client: AsyncWebClient,
    ) -> None:
        thread = payload.get("assistant_thread") or {}
        language = await languages.of(client, str(thread.get("user_id") or "")) or Language.ENGLISH
        await say(messages.say(Message.ASSISTANT_GREETING, language))
        try:
            await set_suggested_prompts(
                prompts=suggested_prompts(language),
                title=messages.say(Message.PROMPTS_TITLE, language),
            )
        except SlackApiError as error:  # without assistant:write the greeting still stands
            log.warning("could not suggest prompts: %s", error.response.get("error"))

    app.assistant(assistant)
    return assistant
