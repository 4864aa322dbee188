"""Fusing a lexical and a dense ranking into one score per chunk.

The one rule both stores apply, so that the shared PostgreSQL
store fuses exactly as the SQLite index does: by default a convex mix of the
lexical score (normalised by the best match) and the cosine; or reciprocal-rank
fusion (Cormack et al. 2009, k = `rrf_k`, by default `RRF_K`) with the dense
ranks weighted.
"""

from __future__ import annotations

from collections.abc import Mapping

RRF_K = 60
# How much meaning counts beside words. Error codes and exact names carry most of a
# support question's meaning. Tuned by two-fold cross-validation over the shipped
# sample cases (`evaluate_fusion`, docs/benchmarks.md): with all-MiniLM-L6-v2 each
# half chose the score mix at the grid's smallest weight, 0.1 (0.3 did worse held out).
DENSE_WEIGHT = 0.1


class Fusion:
    SCORES = "scores"  # max-normalised BM25 and cosine, mixed by DENSE_WEIGHT
    RANKS = "ranks"  # reciprocal-rank fusion, dense ranks weighted by DENSE_WEIGHT


def fuse(
    lexical: Mapping[int, float],
    dense: Mapping[int, float],
    similarity: Mapping[int, float] | None,
    *,
    fusion: str = Fusion.SCORES,
    dense_weight: float = DENSE_WEIGHT,
    rrf_k: int = RRF_K,
) -> dict[int, float]:
    """One score per chunk of either ranking; both rankings are ordered best first.

    Example:
        >>> fuse({1: 4.0, 2: 2.0}, {2: 0.9}, {1: 0.1, 2: 0.9}, dense_weight=0.5)
        {1: 0.55, 2: 0.7}
    """
    fused: dict[int, float] = {}
    if fusion == Fusion.SCORES and similarity is not None and lexical:
        top = max(lexical.values()) or 1.0
        for chunk in {*lexical, *dense}:
            cosine = similarity.get(chunk) or 0.0
            words = lexical.get(chunk, 0.0) / top
            fused[chunk] = (1 - dense_weight) * words + dense_weight * cosine
        return fused
    for ranking, weight in ((lexical, 1.0), (dense, dense_weight)):
        for rank, chunk in enumerate(ranking):
            fused[chunk] = fused.get(chunk, 0.0) + weight / (rrf_k + rank + 1)
    return fused
