"""Build the use cases from `Settings`: the diagnoser and the thread summarizer."""

from __future__ import annotations

from bot.attachments.fetching import AttachmentFetcher
from bot.attachments.image_budget import ImageBudget
from bot.conversation.channel_policy import ChannelPolicy
from bot.conversation.diagnosis import Diagnoser
from bot.conversation.error_lines import ErrorLineReader, ErrorLineStore
from bot.conversation.grounding import Retriever
from bot.conversation.history import HistoryStore
from bot.conversation.knowledge import KnowledgeBase
from bot.conversation.prompting import (
    SYSTEM_PROMPT_VERSION,
    PromptBuilder,
)
from bot.conversation.summaries import ThreadSummarizer
from bot.engine.protocol import Engine
from bot.safety.filters import ReplyFilter
from bot.safety.redaction import Redactor
from bot.settings import Settings


def build_diagnoser(
    settings: Settings,
    *,
    engine: Engine,
    history: HistoryStore,
    fetcher: AttachmentFetcher,
    redactor: Redactor,
    reply_filter: ReplyFilter,
    error_lines: ErrorLineStore,
    knowledge: KnowledgeBase | None = None,
    retriever: Retriever | None = None,
) -> Diagnoser:
    """The diagnosis use case for one source of attachments (Slack, a helpdesk, local files).

    `error_lines` is where screenshots' error lines are kept: the same store for every
    diagnoser of the bot, so an image read for Slack is not read again for a ticket.
    """
    policy = ChannelPolicy.from_file(settings.channel_config) if settings.channel_config else None
    return Diagnoser(
        engine=engine,
        history=history,
        fetcher=fetcher,
        prompts=PromptBuilder(
            max_new_tokens=settings.max_new_tokens,
            version=SYSTEM_PROMPT_VERSION,
        ),
        reply_filter=reply_filter,
        redactor=redactor,
        max_images_per_turn=settings.max_images_per_turn,
        image_budget=ImageBudget(
            per_image=settings.max_image_pixels, total=settings.max_turn_image_pixels
        ),
        max_text_tokens=settings.max_attachment_text_tokens,
        knowledge=knowledge,
        retriever=retriever,
        # Only with a knowledge base: the line is search words, and nothing else reads it.
        error_lines=(
            ErrorLineReader(
                engine,
                redactor=redactor,
                store=error_lines,
                queue_timeout=settings.queue_timeout_seconds,
                generation_timeout=min(60.0, settings.generation_timeout_seconds),
            )
            if retriever is not None
            else None
        ),
        channel_policy=policy,
        queue_timeout=settings.queue_timeout_seconds,
        generation_timeout=settings.generation_timeout_seconds,
    )


def build_summarizer(
    *, engine: Engine, history: HistoryStore, reply_filter: ReplyFilter
) -> ThreadSummarizer:
    """Summaries of a thread for the people it is escalated to, filtered like any answer."""
    return ThreadSummarizer(engine=engine, history=history, reply_filter=reply_filter)
