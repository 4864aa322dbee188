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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.embedding import Embedder
from bot.knowledge.fusion import DENSE_WEIGHT, RRF_K, Fusion
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


@dataclass(frozen=True)
class FusionChoice:
    """How the hybrid mixes words and meaning (see `KnowledgeIndex`)."""

    fusion: str
    dense_weight: float
    rrf_k: int = RRF_K

    def __str__(self) -> str:
        if self.fusion == Fusion.SCORES:
            return f"score mix, dense weight {self.dense_weight:g}"
        return f"rank fusion k={self.rrf_k}, dense weight {self.dense_weight:g}"


DEFAULT_FUSION = FusionChoice(Fusion.SCORES, DENSE_WEIGHT)
FUSION_GRID: tuple[FusionChoice, ...] = (
    *(FusionChoice(Fusion.SCORES, w / 10) for w in range(1, 10)),
    *(FusionChoice(Fusion.RANKS, w, k) for k in (10, 30, 60, 100) for w in (0.25, 0.5, 0.75, 1.0)),
)


@dataclass(frozen=True)
class FusionFold:
    """Fusion tuned on one half of the cases and scored on the other."""

    tuned_on: str
    choice: FusionChoice
    tuned: RetrievalScores  # the choice on the half it was tuned on (optimistic)
    held_out: list[RetrievalScores]  # lexical, hybrid as shipped, hybrid as tuned


def split_cases(cases: Sequence[KnowledgeCase]) -> tuple[list[KnowledgeCase], list[KnowledgeCase]]:
    """Two fixed halves, each holding its share of every language: within a language,
    cases sorted by id go alternately to the first half and the second."""
    first: list[KnowledgeCase] = []
    second: list[KnowledgeCase] = []
    for language in sorted({case.language for case in cases}):
        ordered = sorted((c for c in cases if c.language == language), key=lambda c: c.id)
        for position, case in enumerate(ordered):
            (first if position % 2 == 0 else second).append(case)
    return first, second


def _with(index: KnowledgeIndex, choice: FusionChoice) -> None:
    index.fusion = choice.fusion
    index.dense_weight = choice.dense_weight
    index.rrf_k = choice.rrf_k


def tune_fusion(
    index: KnowledgeIndex,
    cases: list[KnowledgeCase],
    grid: Sequence[FusionChoice] = FUSION_GRID,
) -> tuple[FusionChoice, RetrievalScores]:
    """The choice of `grid` with the best MRR on `cases` (then recall@5, then recall@1;
    the first in the grid on a tie), and its scores there. `index` is left as it was."""
    before = FusionChoice(index.fusion, index.dense_weight, index.rrf_k)
    best: tuple[FusionChoice, RetrievalScores] | None = None
    try:
        for choice in grid:
            _with(index, choice)
            scores = score(index, cases, mode=Mode.HYBRID)
            key = (scores.mrr, scores.recall_at_5, scores.recall_at_1)
            if best is None or key > (best[1].mrr, best[1].recall_at_5, best[1].recall_at_1):
                best = (choice, scores)
    finally:
        _with(index, before)
    if best is None:
        raise ValueError("an empty grid")
    return best


async def evaluate_fusion(
    embedder: Embedder, *, cases: list[KnowledgeCase] | None = None
) -> list[FusionFold]:
    """Two-fold cross-validation of the fusion: tuned on half A and scored on half B,
    then the other way round, so no reported score comes from cases it was tuned on."""
    cases = cases if cases is not None else load_cases()
    halves = dict(zip("AB", split_cases(cases), strict=True))
    folds: list[FusionFold] = []
    with tempfile.TemporaryDirectory() as folder:
        index = await build_sample_index(Path(folder) / "sample.db", embedder=embedder)
        try:
            for tuned_on, other in (("A", "B"), ("B", "A")):
                choice, tuned = tune_fusion(index, halves[tuned_on])
                held_out = [score(index, halves[other], mode=Mode.LEXICAL)]
                for label, used in (
                    ("hybrid as shipped", DEFAULT_FUSION),
                    ("hybrid tuned", choice),
                ):
                    _with(index, used)
                    row = score(index, halves[other], mode=Mode.HYBRID)
                    held_out.append(_named(row, label))
                _with(index, DEFAULT_FUSION)
                folds.append(FusionFold(tuned_on, choice, tuned, held_out))
        finally:
            index.close()
    return folds


def _named(row: RetrievalScores, mode: str) -> RetrievalScores:
    return RetrievalScores(
        mode, row.cases, row.recall_at_1, row.recall_at_5, row.mrr, row.p95_ms, row.misses
    )


def pooled(rows: Sequence[RetrievalScores], mode: str) -> RetrievalScores:
    """Rows over disjoint cases as one row (their rates weighted by cases)."""
    total = sum(row.cases for row in rows) or 1
    return RetrievalScores(
        mode,
        sum(row.cases for row in rows),
        sum(row.recall_at_1 * row.cases for row in rows) / total,
        sum(row.recall_at_5 * row.cases for row in rows) / total,
        sum(row.mrr * row.cases for row in rows) / total,
        max((row.p95_ms for row in rows), default=0.0),
        tuple(miss for row in rows for miss in row.misses),
    )


def fusion_table(folds: list[FusionFold]) -> str:
    """Each fold's choice and held-out scores, then both held-out halves pooled."""
    lines = [
        "| tuned on | scored on | retrieval | cases | recall@1 | recall@5 | MRR |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for fold in folds:
        other = "B" if fold.tuned_on == "A" else "A"
        rows = [(fold.tuned_on, _named(fold.tuned, "hybrid tuned (in-sample)"))]
        rows += [(other, row) for row in fold.held_out]
        for scored_on, row in rows:
            lines.append(
                f"| {fold.tuned_on} | {scored_on} | {row.mode} | {row.cases} | "
                f"{row.recall_at_1:.3f} | {row.recall_at_5:.3f} | {row.mrr:.3f} |"
            )
    for position, mode in enumerate(("lexical", "hybrid as shipped", "hybrid tuned")):
        row = pooled([fold.held_out[position] for fold in folds], mode)
        lines.append(
            f"| other half | both halves | {mode} | {row.cases} | "
            f"{row.recall_at_1:.3f} | {row.recall_at_5:.3f} | {row.mrr:.3f} |"
        )
    lines.append("")
    lines += [f"- tuned on {fold.tuned_on}: {fold.choice}" for fold in folds]
    return "\n".join(lines)
