"""What retrieval hands the answer: passages with where they came from and how well they matched."""

from __future__ import annotations

from dataclasses import dataclass


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
