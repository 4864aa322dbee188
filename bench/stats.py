"""Summary statistics the benchmarks share."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which `share` of `values` fall (the nearest rank at or above it).

    Example:
        >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.95)
        5.0
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
