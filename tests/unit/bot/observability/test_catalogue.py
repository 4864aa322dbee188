"""Every metric is declared once, and everything that reports one names a declared metric."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.observability import catalogue
from bot.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parents[4]


def test_names_are_unique_and_every_metric_is_exposed_with_its_help_from_the_start() -> None:
    names = [spec.name for spec in catalogue.CATALOGUE]
    assert len(names) == len(set(names))
    text = Metrics().render()
    for spec in catalogue.CATALOGUE:
        family = spec.name.removesuffix("_total")
        assert f"# HELP {family}" in text, spec.name
        assert spec.help in text


def test_every_metric_name_in_the_engine_is_declared() -> None:
    # The engine imports nothing of the bot, so it reports by name: each must exist.
    sources = " ".join(path.read_text() for path in (ROOT / "bot" / "engine").rglob("*.py"))
    reported = set(re.findall(r'"(supportbot_[a-z_]+)"', sources))
    assert reported, "the engine reports its timings"
    assert reported <= set(catalogue.BY_NAME)


def test_an_undeclared_metric_is_refused() -> None:
    with pytest.raises(KeyError):
        Metrics().observe_by_name("supportbot_made_up_seconds", 1.0)


def test_labels_are_the_declared_ones() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError):
        metrics.count(catalogue.ANSWERS, colour="red")
