"""What retrieval hands the answer: passages with where they came from and how well they matched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.knowledge.terms import terms


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk.

    `score` is the fused rank score (reciprocal-rank fusion, higher is better);
    `similarity` the cosine of the query and passage embeddings (None without a
    model); `lexical` the full-text rank (BM25, higher is better; 0 when the
    words did not match).
    """

    source: str
    document: str
    title: str
    url: str | None
    section: str
    text: str
    score: float
    similarity: float | None = None
    lexical: float = 0.0
    matched: tuple[str, ...] = ()  # the query's terms found in the passage

    @property
    def heading(self) -> str:
        """The title, and the section inside it when it has one."""
        return f"{self.title} > {self.section}" if self.section else self.title


def scored_passage(
    chunk: int,
    row: Sequence[Any],
    *,
    fused: Mapping[int, float],
    lexical: Mapping[int, float],
    similarity: Mapping[int, float] | None,
    wanted: set[str],
) -> Passage:
    """The passage of `chunk` from a store's row (id, source, doc_id, title, url,
    section, text), with its scores and which of the query's terms (`wanted`) it holds;
    built here once so that both stores hand retrieval the same passage."""
    _, source, doc_id, title, url, section, text = row
    found = wanted.intersection(terms(f"{title}\n{section}\n{text}"))
    return Passage(
        source=source,
        document=doc_id,
        title=title,
        url=url,
        section=section,
        text=text,
        score=fused[chunk],
        similarity=None if similarity is None else similarity.get(chunk),
        lexical=lexical.get(chunk, 0.0),
        matched=tuple(sorted(found)),
    )


def scored_passages(
    chunks: Sequence[int],
    rows: Sequence[Sequence[Any]],
    *,
    fused: Mapping[int, float],
    lexical: Mapping[int, float],
    similarity: Mapping[int, float] | None,
    wanted: set[str],
) -> list[Passage]:
    """The passages of `chunks`, in that order, from a store's rows (any order); a chunk
    with no row (removed by a sync committed since its vectors were read) is left out."""
    by_id = {row[0]: row for row in rows}
    return [
        scored_passage(
            chunk, by_id[chunk], fused=fused, lexical=lexical, similarity=similarity, wanted=wanted
        )
        for chunk in chunks
        if chunk in by_id
    ]
