"""Counters of what the bot did, rendered in Prometheus' text format."""

from __future__ import annotations

import threading
from collections import Counter

from bot.redaction import RedactionStats


class Metrics:
    """Named counters with labels. Safe to share between threads.

    Example:
        >>> metrics = Metrics()
        >>> metrics.count("supportbot_feedback_total", verdict="solved")
        >>> "verdict=\\"solved\\"} 1" in metrics.render()
        True
    """

    def __init__(self, *, redactions: RedactionStats | None = None) -> None:
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self._lock = threading.Lock()
        self.redactions = redactions or RedactionStats()

    def count(self, name: str, amount: int = 1, **labels: str) -> None:
        with self._lock:
            self._counts[(name, tuple(sorted(labels.items())))] += amount

    def value(self, name: str, **labels: str) -> int:
        with self._lock:
            return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self) -> str:
        with self._lock:
            counts = dict(self._counts)
        for kind, amount in self.redactions.snapshot().items():
            counts[("supportbot_redactions_total", (("kind", kind),))] = amount
        lines: list[str] = []
        for name in sorted({name for name, _ in counts}):
            lines.append(f"# TYPE {name} counter")
            for (metric, labels), amount in sorted(counts.items()):
                if metric == name:
                    rendered = ",".join(f'{key}="{value}"' for key, value in labels)
                    lines.append(
                        f"{name}{{{rendered}}} {amount}" if rendered else f"{name} {amount}"
                    )
        return "\n".join(lines) + "\n"
