"""What the diagnosis asks the team's knowledge once per question, and how the question is
turned into a query.

The query is what the user gave: their words and the text of the logs they
attached. When those hold too few search terms and the message (or, for a
follow-up, the thread) has a screenshot, the diagnosis adds the screenshot's error
line, read by the model in a short first pass (`error_lines.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from bot.conversation.turns import AttachmentKind, AttachmentNote
from bot.knowledge.passages import Passage
from bot.messages import Language, Message, say

# Logs are long and their last lines hold the error: the query keeps the question
# whole and the end of each log.
_QUERY_CHARS_PER_LOG = 1500
_QUERY_CHARS = 4000


class Retriever(Protocol):
    """The passages a conversation may be answered from, best first, none below the floor."""

    async def retrieve(
        self,
        query: str,
        *,
        channel: str,
        sources: frozenset[str] | None = None,
        scopes: tuple[str, ...] = (),
    ) -> list[Passage]:
        """`scopes`: further names the conversation answers to (`conversation_scopes`)."""
        ...


def knowledge_query(text: str, attachments: Sequence[AttachmentNote]) -> str:
    """The retrieval query for a question: its text and the end of each attached log.

    Example:
        >>> knowledge_query("deploy fails", [AttachmentNote("a.log", AttachmentKind.TEXT,
        ...     "", "step 1 ok\\nERROR ACME-4012 vault token expired")])
        'deploy fails\\nstep 1 ok\\nERROR ACME-4012 vault token expired'
    """
    parts = [text.strip()]
    for note in attachments:
        if note.kind is AttachmentKind.TEXT and note.text:
            parts.append(note.text[-_QUERY_CHARS_PER_LOG:].strip())
    return "\n".join(part for part in parts if part)[:_QUERY_CHARS]


_LINK_UNSAFE = re.compile(r"[\[\]()<>\r\n]")


def sources_footer(passages: Sequence[Passage], language: Language) -> str:
    """The Markdown list that ends a grounded answer: each document once, with the numbers
    its passages had, its title linked (Slack gets it as mrkdwn, helpdesks as their note
    format). Titles come from documents, so brackets that would break the link go."""
    if not passages:
        return ""
    numbers: dict[tuple[str, str], list[int]] = {}
    shown: dict[tuple[str, str], Passage] = {}
    for number, passage in enumerate(passages, start=1):
        key = (passage.source, passage.document)
        numbers.setdefault(key, []).append(number)
        shown.setdefault(key, passage)
    lines = [say(Message.SOURCES_HEADING, language)]
    for key, passage in shown.items():
        marks = "".join(f"[{n}]" for n in numbers[key])
        title = _LINK_UNSAFE.sub(" ", passage.title).strip() or passage.document
        url = passage.url
        if url and url.startswith(("https://", "http://")) and not _LINK_UNSAFE.search(url):
            lines.append(f"{marks} [{title}]({url})")
        else:
            lines.append(f"{marks} {title}")
    return "\n".join(lines)
