"""Scoring a query against the in-memory matrix of chunk vectors, for both stores.

Each store holds its vectors as one matrix (a row per chunk, ordered by chunk id)
with each row's chunk id and owning document beside it; `nearest` scores every row
with one matrix-vector product, so both stores rank by meaning exactly alike.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bot.knowledge.embedding import Vectors


def nearest(
    matrix: Vectors,
    ids: np.ndarray,
    mask: npt.NDArray[np.bool_],
    vector: Vectors,
    count: int,
) -> tuple[dict[int, float], dict[int, float]]:
    """The `count` visible rows (`mask`) closest to `vector`, best first, by chunk id;
    and every visible chunk's cosine, looked up lazily. `count` is at least 1 and at
    most the number of visible rows."""
    scores = matrix @ vector
    scores[~mask] = -np.inf
    top = np.argpartition(-scores, count - 1)[:count]
    top = top[np.argsort(-scores[top])]
    ranked = {int(ids[i]): float(scores[i]) for i in top}
    return ranked, Similarity(ids, scores, ranked)


class Similarity(dict[int, float]):
    """Cosine similarity of any chunk, computed already for all of them; looked up lazily."""

    def __init__(self, ids: np.ndarray, scores: np.ndarray, ranked: dict[int, float]) -> None:
        super().__init__(ranked)
        self._ids = ids
        self._scores = scores

    def get(self, key: int, default: float | None = None) -> float | None:  # type: ignore[override]
        if key in self:
            return self[key]
        position = int(np.searchsorted(self._ids, key))
        if position < len(self._ids) and self._ids[position] == key:
            value = float(self._scores[position])
            return value if np.isfinite(value) else default
        return default
