"""The bot's metrics, in a registry of its own, exposed in Prometheus' text format.

Every metric is declared in `bot.observability.catalogue` and registered when
`Metrics` is made, so `/metrics` lists each one, with its help, from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.observability.catalogue import BY_NAME, CATALOGUE, REDACTIONS, MetricKind, MetricSpec
from bot.safety.redaction import RedactionStats


class _RedactionCollector(Collector):
    """Reads the redactor's own counts at scrape time (the redactor knows no metrics)."""

    def __init__(self, stats: RedactionStats) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            REDACTIONS.name.removesuffix("_total"), REDACTIONS.help, labels=list(REDACTIONS.labels)
        )
        for kind, amount in sorted(self._stats.snapshot().items()):
            family.add_metric([kind], amount)
        yield family


class Metrics:
    """Counters, histograms and gauges of one bot instance.

    Example:
        >>> from bot.observability.catalogue import FEEDBACK
        >>> metrics = Metrics()
        >>> metrics.count(FEEDBACK, verdict="solved")
        >>> 'verdict="solved"} 1.0' in metrics.render()
        True
    """

    def __init__(self, *, redactions: RedactionStats | None = None) -> None:
        self.registry = CollectorRegistry()
        self.redactions = redactions or RedactionStats()
        self.registry.register(_RedactionCollector(self.redactions))
        self._counters: dict[MetricSpec, Counter] = {}
        self._histograms: dict[MetricSpec, Histogram] = {}
        self._gauges: dict[MetricSpec, Gauge] = {}
        for spec in CATALOGUE:
            if spec is REDACTIONS:
                continue
            if spec.kind is MetricKind.COUNTER:
                self._counters[spec] = Counter(
                    spec.name, spec.help, spec.labels, registry=self.registry
                )
            elif spec.kind is MetricKind.HISTOGRAM:
                self._histograms[spec] = Histogram(
                    spec.name, spec.help, spec.labels, buckets=spec.buckets, registry=self.registry
                )
            else:
                self._gauges[spec] = Gauge(spec.name, spec.help, registry=self.registry)

    def count(self, spec: MetricSpec, amount: int = 1, **labels: str) -> None:
        counter = self._counters[spec]
        (counter.labels(**labels) if labels else counter).inc(amount)

    def value(self, spec: MetricSpec, **labels: str) -> float:
        """A counter's current value (0 before its first count)."""
        return self.registry.get_sample_value(spec.name, labels or None) or 0.0

    def observe(self, spec: MetricSpec, value: float, **labels: str) -> None:
        histogram = self._histograms[spec]
        (histogram.labels(**labels) if labels else histogram).observe(value)

    def observe_by_name(self, name: str, value: float) -> None:
        """For the engine, which reports by name; the name must be in the catalogue."""
        self.observe(BY_NAME[name], value)

    def gauge(self, spec: MetricSpec, read: Callable[[], float]) -> None:
        """Make the gauge's value `read()` at scrape time."""
        self._gauges[spec].set_function(read)

    def render(self) -> str:
        return generate_latest(self.registry).decode()
