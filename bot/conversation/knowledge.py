"""Resolutions become knowledge: resolved threads, retrieved for similar new questions.

Retrieval is lexical (BM25 over words, and character bigrams for Chinese), which
needs no model download, works offline and suits error messages, whose exact
tokens (`ECONNREFUSED`, `ModuleNotFoundError`) carry most of the meaning.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.knowledge.sources.base import Visibility

_WORD = re.compile(r"[a-z0-9_]+(?:[.:-][a-z0-9_]+)*|[\u3400-\u9fff]+")
_STOP_WORDS = (
    "a an and are as at be but by do does for from how i in is it my of on or the "
    "this to was what when why with you your me can not"
)
_STOP = frozenset(_STOP_WORDS.split())


class Conversation(StrEnum):
    """The kind of conversation a resolution came from, as Slack's conversations.info says
    (`is_im`, `is_private`); UNKNOWN when it could not be told, treated as private."""

    PUBLIC = "public"
    PRIVATE = "private"
    DIRECT = "direct"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Resolution:
    """A thread a person resolved: what the error was, what the bot said, what fixed it,
    and where it came from (workspace, channel, kind of conversation).

    Records kept before the origin was recorded have `thread` ("workspace:channel:ts")
    and an UNKNOWN kind, so they are drawn on only in their own conversation.
    """

    error_text: str
    diagnosis: str
    resolution: str
    resolved_by: str
    thread: str
    resolved_at: float = field(default_factory=time.time)
    workspace: str = ""
    channel: str = ""
    conversation: str = Conversation.UNKNOWN

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(self.resolved_at))

    @property
    def origin(self) -> tuple[str, str]:
        """(workspace, channel) it was resolved in."""
        if self.workspace and self.channel:
            return self.workspace, self.channel
        parts = self.thread.split(":")
        return (parts[0], parts[1]) if len(parts) >= 3 else ("", "")

    @property
    def visibility(self) -> Visibility:
        """The documents' rule: a public channel's resolution is for everyone in its
        workspace; a private channel's, a DM's or an unknown one's only for that channel."""
        if self.conversation == Conversation.PUBLIC:
            return Visibility.everyone()
        return Visibility.only([self.origin[1]])

    def visible_in(self, workspace: str, channel: str) -> bool:
        """Whether a question in `channel` of `workspace` may be answered from it."""
        return self.origin[0] == workspace and self.visibility.allows(channel)

    @property
    def index_visibility(self) -> Visibility:
        """`visible_in` as the knowledge index's channel lists say it: the scope names of
        `conversation_scopes` (its workspace, or its workspace's one channel)."""
        workspace, channel = self.origin
        if self.conversation == Conversation.PUBLIC:
            return Visibility.only([f"{workspace}:*"])
        return Visibility.only([f"{workspace}:{channel}"])


def conversation_scopes(workspace: str, channel: str) -> tuple[str, ...]:
    """The names a conversation answers to in the knowledge index besides its channel id,
    so a past resolution reaches it exactly when `Resolution.visible_in` says so (a
    channel id holds no `:`, so these never meet a configured channel)."""
    return (f"{workspace}:*", f"{workspace}:{channel}")


def terms(text: str) -> list[str]:
    """Lower-cased words (kept whole: `econnrefused`, `module.x`), CJK runs as bigrams."""
    found: list[str] = []
    for token in _WORD.findall(text.lower()):
        if re.match(r"[\u3400-\u9fff]", token):
            found.extend(token[i : i + 2] for i in range(max(1, len(token) - 1)))
        elif token not in _STOP and len(token) > 1:
            found.append(token)
    return found


class LexicalIndex:
    """BM25 ranking over resolutions (k1 = 1.2, b = 0.75)."""

    def __init__(self, resolutions: list[Resolution]) -> None:
        self._docs = [
            Counter(terms(f"{r.error_text} {r.resolution} {r.diagnosis}")) for r in resolutions
        ]
        self._resolutions = resolutions
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._average = sum(self._lengths) / len(self._lengths) if self._lengths else 0.0
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        total = len(self._docs)
        self._idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}

    def search(
        self,
        query: str,
        *,
        limit: int = 3,
        min_score: float = 1.0,
        where: tuple[str, str] | None = None,
    ) -> list[Resolution]:
        """The best matches; with `where` (workspace, channel), only those visible there,
        left out before ranking so nothing private even competes."""
        wanted = set(terms(query))
        scored = []
        for index, doc in enumerate(self._docs):
            if where is not None and not self._resolutions[index].visible_in(*where):
                continue
            score = 0.0
            for term in wanted & doc.keys():
                tf = doc[term]
                norm = 1.2 * (0.25 + 0.75 * self._lengths[index] / (self._average or 1))
                score += self._idf[term] * tf * 2.2 / (tf + norm)
            if score >= min_score:
                scored.append((score, index))
        scored.sort(reverse=True)
        return [self._resolutions[index] for _, index in scored[:limit]]


class KnowledgeBase(Protocol):
    async def add(self, resolution: Resolution) -> None: ...

    async def all(self) -> list[Resolution]:
        """Every resolution kept, oldest first (the knowledge index's resolutions source)."""
        ...

    async def similar(
        self, query: str, *, limit: int = 3, where: tuple[str, str] | None = None
    ) -> list[Resolution]:
        """The past resolutions most like `query`, best first (none when nothing is close);
        with `where` (workspace, channel), only those its origin allows there."""
        ...
