"""The Slack listeners: which events get an answer. Each returns at once; the answer
runs after Bolt has acknowledged the event."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.channel_policy import ChannelPolicy
from bot.conversation.escalation import ThreadCase, ThreadStatus
from bot.conversation.turns import ThreadKey, Turn
from bot.messages import Language
from bot.safety.redaction import Redactor
from handlers.slack.answering import SlackAnswerer
from handlers.slack.assistant import name_thread
from handlers.slack.events import (
    is_direct_message,
    is_person_message,
    is_thread_reply,
    mentions,
    strip_mentions,
    thread_of,
)
from handlers.slack.message_reader import SlackMessageReader
from handlers.slack.shared_files import with_shared_files
from handlers.slack.user_language import UserLanguages

log = logging.getLogger(__name__)


class KnownThreads(Protocol):
    """The threads the bot took part in (the conversation history knows)."""

    async def has_thread(self, thread: ThreadKey) -> bool | None:
        """Whether the bot took part in `thread`; None when the store cannot tell."""
        ...


class ThreadCases(Protocol):
    """Each thread's escalation case (with the bot, or with people)."""

    async def get(self, thread: ThreadKey) -> ThreadCase: ...


def _team_id(context: AsyncBoltContext, body: dict[str, Any]) -> str:
    return str(context.team_id or body.get("team_id") or "")


def register_listeners(
    app: AsyncApp,
    answerer: SlackAnswerer,
    policy: ChannelPolicy,
    languages: UserLanguages,
    *,
    threads: KnownThreads,
    redactor: Redactor,
    cases: ThreadCases | None = None,
    reader: SlackMessageReader | None = None,
) -> None:
    """Mentions, direct messages, replies in the bot's threads, and (in support channels)
    every new message; per the channel policy.

    Args:
        answerer: answers the accepted messages.
        threads: which threads the bot is in (a reply there is the bot's to answer).
        redactor: cleans a question before it names its thread.
        cases: the threads handed to people; None when escalation is off.
        reader: turns an event into a `Turn`.
    """
    reader = reader or SlackMessageReader()

    async def submit(
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        team_id = _team_id(context, body)
        event = await with_shared_files(client, event)  # after the ack: listeners run then
        turn = await reader.turn(
            event, team_id=team_id, bot_user_id=context.bot_user_id, client=client
        )
        turn = replace(turn, source_id=body.get("event_id"))
        language = policy.rules_for(turn.thread.space).language
        if language is None:
            language = await languages.of(client, turn.user_id)
        answerer.submit(_with_language(turn, language), client)

    @app.event("app_mention")
    async def answer_mentions(
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        if is_person_message(event) and policy.answers_mention(event["channel"], event["user"]):
            await submit(event, body, context, client)
        else:
            await answerer.forget(body.get("event_id"))

    @app.event("message")
    async def answer_messages(
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        if event.get("subtype") == "message_deleted":
            deleted = event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
            if deleted and answerer.cancel(event["channel"], str(deleted)):
                log.info("question %s deleted; its answer was stopped", deleted)
            return
        if not is_person_message(event):
            return  # edits, bot posts and joins are not questions
        team_id = _team_id(context, body)
        channel, user = event["channel"], event["user"]
        if is_direct_message(event):
            wanted = policy.answers_direct_message(user)
            if wanted:  # a reply in an assistant thread, or a new thread in the Messages tab
                await _title_new_thread(
                    threads, redactor, client, event, team_id, context.bot_user_id
                )
        elif mentions(event, context.bot_user_id):
            # A post that mentions the bot is app_mention's, but Slack may deliver only its
            # message event (a mention with a file arrives as message/file_share alone,
            # slackapi/bolt-python#925). Answered here under the mention rule; when both
            # events arrive, the claim on the message's ts lets only one of them answer.
            wanted = policy.answers_mention(channel, user)
        elif is_thread_reply(event):
            thread = thread_of(event, team_id)
            wanted = (
                policy.answers_thread_reply(channel, user)
                and await _bot_in_thread(threads, client, thread, context)
                and not await _with_people(cases, thread)
            )
        else:  # a new top-level message that does not mention the bot
            wanted = policy.answers_new_message(channel, user)
        if wanted:
            await submit(event, body, context, client)
        else:
            await answerer.forget(body.get("event_id"))

    @app.error
    async def log_listener_errors(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed on %s: %r", body.get("event_id", "?"), error)


async def _bot_in_thread(
    threads: KnownThreads, client: AsyncWebClient, thread: ThreadKey, context: AsyncBoltContext
) -> bool:
    """Whether the bot took part in `thread`: its history says, or, while the history
    cannot tell (Redis down), Slack's own thread does."""
    known = await threads.has_thread(thread)
    if known is not None:
        return known
    # conversations.replies is rate-limited hard for most apps
    # (https://api.slack.com/methods/conversations.replies): asked only during an outage.
    try:
        replies = await client.conversations_replies(
            channel=thread.space, ts=thread.thread_id, limit=200
        )
    except SlackApiError as error:
        log.warning("cannot tell whether the bot is in %s: %s", thread.as_key(), error)
        return False
    return any(
        message.get("user") == context.bot_user_id
        or (context.bot_id is not None and message.get("bot_id") == context.bot_id)
        for message in replies.get("messages") or ()
        if isinstance(message, dict)
    )


async def _with_people(cases: ThreadCases | None, thread: ThreadKey) -> bool:
    """An escalated thread belongs to people: the bot answers there only when mentioned."""
    if cases is None:
        return False
    return (await cases.get(thread)).status is ThreadStatus.ESCALATED


async def _title_new_thread(
    threads: KnownThreads,
    redactor: Redactor,
    client: AsyncWebClient,
    event: dict[str, Any],
    team_id: str,
    bot_user_id: str | None,
) -> None:
    """The first question in a direct-message thread (the assistant container's threads
    are these) names the thread."""
    thread = thread_of(event, team_id)
    if not await threads.has_thread(thread):
        question = strip_mentions(str(event.get("text") or ""), bot_user_id)
        await name_thread(client, thread.space, thread.thread_id, question, redactor=redactor)


def _with_language(turn: Turn, language: Language | None) -> Turn:
    return replace(turn, language=language) if language is not None else turn
