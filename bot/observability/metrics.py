"""The bot's metrics, in a registry of its own, exposed in Prometheus' text format.

Counters and histograms are made on first use, so each call site names what it
counts; gauges read their value when scraped (queue depth, GPU memory).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.safety.redaction import RedactionStats

# Seconds, from a fast ack to a long generation.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Counts (batch sizes, reused tokens): powers of two.
_COUNT_BUCKETS = tuple(float(2**power) for power in range(17))
_COUNTED = ("_batch_size", "_tokens")


class _RedactionCollector(Collector):
    def __init__(self, stats: RedactionStats) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "supportbot_redactions", "Secrets and personal data redacted, by kind", labels=["kind"]
        )
        for kind, amount in sorted(self._stats.snapshot().items()):
            family.add_metric([kind], amount)
        yield family


class Metrics:
    """Counters, histograms and gauges of one bot instance.

    Example:
        >>> metrics = Metrics()
        >>> metrics.count("supportbot_feedback_total", verdict="solved")
        >>> 'verdict="solved"} 1.0' in metrics.render()
        True
    """

    def __init__(self, *, redactions: RedactionStats | None = None) -> None:
        self.registry = CollectorRegistry()
        self.redactions = redactions or RedactionStats()
        self.registry.register(_RedactionCollector(self.redactions))
        self._counters: dict[str, Counter] = {}
        self._histograms: dict[str, Histogram] = {}
        self._lock = threading.Lock()

    def count(self, name: str, amount: int = 1, **labels: str) -> None:
        with self._lock:
            counter = self._counters.get(name)
            if counter is None:
                counter = Counter(
                    name, name.replace("_", " "), sorted(labels), registry=self.registry
                )
                self._counters[name] = counter
        (counter.labels(**labels) if labels else counter).inc(amount)

    def value(self, name: str, **labels: str) -> float:
        sample = name if name.endswith("_total") else f"{name}_total"
        return self.registry.get_sample_value(sample, labels or None) or 0.0

    def observe(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            histogram = self._histograms.get(name)
            if histogram is None:
                histogram = Histogram(
                    name,
                    name.replace("_", " "),
                    sorted(labels),
                    buckets=_COUNT_BUCKETS if name.endswith(_COUNTED) else _BUCKETS,
                    registry=self.registry,
                )
                self._histograms[name] = histogram
        (histogram.labels(**labels) if labels else histogram).observe(value)

    def gauge(self, name: str, read: Callable[[], float], help_text: str) -> None:
        """A gauge whose value is `read()` at scrape time."""
        Gauge(name, help_text, registry=self.registry).set_function(read)

    def render(self) -> str:
        return generate_latest(self.registry).decode()
