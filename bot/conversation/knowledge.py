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
from typing import Protocol

_WORD = re.compile(r"[a-z0-9_]+(?:[.:-][a-z0-9_]+)*|[\u3400-\u9fff]+")
_STOP_WORDS = (
    "a an and are as at be but by do does for from how i in is it my of on or the "
    "this to was what when why with you your me can not"
)
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Resolution:
    """A thread a person resolved: what the error was, what the bot said, what fixed it."""

    error_text: str
    diagnosis: str
    resolution: str
    resolved_by: str
    thread: str
    resolved_at: float = field(default_factory=time.time)

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(self.resolved_at))


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

    def search(self, query: str, *, limit: int = 3, min_score: float = 1.0) -> list[Resolution]:
        wanted = set(terms(query))
        scored = []
        for index, doc in enumerate(self._docs):
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

    async def similar(self, query: str, *, limit: int = 3) -> list[Resolution]:
        """The past resolutions most like `query`, best first (none when nothing is close)."""
        ...
