"""The knowledge part of the eval: does retrieval find the one document each case needs?

The shipped sample knowledge base (`knowledge_set/docs`) is indexed into a fresh
index, once words-only and once hybrid with the embedding model, and each case's
question is searched as a public channel would. A case counts as found at rank k
when a passage of its document is among the first k (distinct documents, best
passage each). This needs no chat model; `cite_rate` scores answers.
"""

from __future__ import annotations

import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.embedding import Embedder
from bot.knowledge.index import KnowledgeIndex, Mode
from bot.knowledge.passages import Passage
from bot.knowledge.sources.base import Visibility
from bot.knowledge.sources.folder import FolderSource
from bot.knowledge.store import KnowledgeStore
from bot.knowledge.sync import sync_source
from bot.safety.redaction import Redactor

KNOWLEDGE_SET = Path(__file__).parent / "knowledge_set"
SOURCE = "sample"


@dataclass(frozen=True)
class KnowledgeCase:
    id: str
    language: str
    question: str
    document: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class RetrievalScores:
    """Recall@1, recall@5 and mean reciprocal rank (over the first 10) of one mode."""

    mode: str
    cases: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    p95_ms: float
    misses: tuple[str, ...]  # case ids whose document was not in the first 5


def load_cases(root: Path = KNOWLEDGE_SET) -> list[KnowledgeCase]:
    """The cases of `root/cases.toml`, each naming the one document it needs."""
    raw = tomllib.loads((root / "cases.toml").read_text("utf-8"))
    return [
        KnowledgeCase(
            id=case["id"],
            language=case["language"],
            question=case["question"],
            document=case["document"],
            keywords=tuple(case.get("keywords", ())),
        )
        for case in raw["cases"]
    ]


async def sync_sample(store: KnowledgeStore) -> None:
    """The sample knowledge base synced into `store` (either kind)."""
    source = FolderSource(
        name=SOURCE, root=KNOWLEDGE_SET / "docs", visibility=Visibility.everyone()
    )
    summary = await sync_source(source, store, redactor=Redactor())
    if summary.error or summary.skipped:
        raise RuntimeError(f"the sample knowledge base did not sync: {summary}")


async def build_sample_index(path: Path, *, embedder: Embedder | None) -> KnowledgeIndex:
    """The sample knowledge base synced into a new index at `path`."""
    index = KnowledgeIndex(path, embedder=embedder)
    await sync_sample(index)
    return index


def score_modes(store: KnowledgeStore, cases: list[KnowledgeCase]) -> list[RetrievalScores]:
    """Lexical-only, and dense-only and hybrid when the store has an embedder."""
    dense = [Mode.DENSE, Mode.HYBRID] if store.embedder is not None else []
    return [score(store, cases, mode=mode) for mode in [Mode.LEXICAL, *dense]]


def ranked_documents(passages: list[Passage]) -> list[str]:
    """Documents in the order their best passage ranks, each once."""
    seen: list[str] = []
    for passage in passages:
        if passage.document not in seen:
            seen.append(passage.document)
    return seen


def score(index: KnowledgeStore, cases: list[KnowledgeCase], *, mode: str) -> RetrievalScores:
    """Retrieval of each case's document by `index` in `mode`."""
    hits1 = hits5 = 0
    reciprocal = 0.0
    times: list[float] = []
    misses: list[str] = []
    for case in cases:
        started = time.perf_counter()
        passages = index.search(case.question, channel=None, limit=30, mode=mode)
        times.append(time.perf_counter() - started)
        documents = ranked_documents(passages)[:10]
        rank = documents.index(case.document) + 1 if case.document in documents else None
        hits1 += rank == 1
        if rank is not None and rank <= 5:
            hits5 += 1
        else:
            misses.append(case.id)
        reciprocal += 1.0 / rank if rank else 0.0
    times.sort()
    total = len(cases) or 1
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))] * 1000 if times else 0.0
    return RetrievalScores(
        mode, len(cases), hits1 / total, hits5 / total, reciprocal / total, p95, tuple(misses)
    )


async def evaluate_retrieval(
    embedder: Embedder | None, *, cases: list[KnowledgeCase] | None = None
) -> list[RetrievalScores]:
    """Lexical-only beside hybrid (hybrid only with an embedder), over the shipped cases."""
    cases = cases if cases is not None else load_cases()
    with tempfile.TemporaryDirectory() as folder:
        index = await build_sample_index(Path(folder) / "sample.db", embedder=embedder)
        try:
            return score_modes(index, cases)
        finally:
            index.close()


def retrieval_table(scores: list[RetrievalScores]) -> str:
    """The scores as a Markdown table."""
    lines = [
        "| retrieval | cases | recall@1 | recall@5 | MRR | p95 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in scores:
        lines.append(
            f"| {row.mode} | {row.cases} | {row.recall_at_1:.3f} | {row.recall_at_5:.3f} | "
            f"{row.mrr:.3f} | {row.p95_ms:.1f} |"
        )
    return "\n".join(lines)
