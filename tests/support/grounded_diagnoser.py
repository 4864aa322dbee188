"""A diagnoser that retrieves from the knowledge index before it prompts, on in-memory
history and local files: what the grounding tests and the error-line bench each ask."""

from __future__ import annotations

from bot.attachments.fetching import LocalFileFetcher
from bot.conversation.channel_policy import ChannelPolicy
from bot.conversation.diagnosis import Diagnoser
from bot.conversation.error_lines import ErrorLineReader
from bot.conversation.grounding import Retriever
from bot.conversation.prompting import PromptBuilder
from bot.engine.protocol import Engine
from bot.safety.filters import RedactingFilter
from bot.safety.redaction import Redactor
from bot.stores.history import InMemoryHistoryStore


def grounded_diagnoser(
    engine: Engine,
    retriever: Retriever | None,
    *,
    error_lines: ErrorLineReader | None = None,
    channel_policy: ChannelPolicy | None = None,
    max_new_tokens: int = 4,
    max_file_bytes: int = 10**6,
) -> Diagnoser:
    return Diagnoser(
        engine=engine,
        history=InMemoryHistoryStore(),
        fetcher=LocalFileFetcher(max_bytes=max_file_bytes),
        prompts=PromptBuilder(max_new_tokens=max_new_tokens),
        reply_filter=RedactingFilter(Redactor()),
        retriever=retriever,
        error_lines=error_lines,
        channel_policy=channel_policy,
    )
