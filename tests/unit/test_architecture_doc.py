"""docs/architecture.md is the map: its tables must say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import bot.errors
from bot.observability.catalogue import CATALOGUE
from bot.stores.keys import KEYSPACE

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _section(title: str) -> str:
    start = DOC.index(f"## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else None]


def _first_column(section: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)`", section, flags=re.MULTILINE)


def test_the_keyspace_table_is_the_declared_keyspace() -> None:
    rows = re.findall(
        r"^\| `([^`]+)` \| (\w+) \| `([^`]+)` \| ([^|]+) \|",
        _section("Redis keyspace"),
        flags=re.MULTILINE,
    )
    declared = [(k.pattern, k.type, k.owner, k.ttl) for k in KEYSPACE]
    assert [(p, t, o, ttl.strip()) for p, t, o, ttl in rows] == declared


def test_the_metric_table_is_the_catalogue() -> None:
    assert _first_column(_section("Metrics")) == [spec.name for spec in CATALOGUE]


def test_the_error_tree_names_every_error() -> None:
    drawn = set(re.findall(r"[├└]── (\w+)|^(BotError)$", _section("Errors"), flags=re.MULTILINE))
    names = {a or b for a, b in drawn}
    errors = {
        name
        for name, value in vars(bot.errors).items()
        if isinstance(value, type) and issubclass(value, bot.errors.BotError)
    }
    assert names == errors


def test_every_package_of_bot_is_on_the_map() -> None:
    packages = {f"bot/{path.parent.name}/" for path in (ROOT / "bot").glob("*/__init__.py")}
    listed = set(_first_column(_section("Packages")))
    assert packages <= listed
