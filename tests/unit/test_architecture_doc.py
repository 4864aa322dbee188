"""docs/architecture.md is the map: its tables must say what the code does."""

from __future__ import annotations

import ast
import builtins
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


def _units() -> dict[str, list[Path]]:
    """Each package of `bot` (a folder) or top-level module, and the files it is made of."""
    units = {}
    for path in sorted((ROOT / "bot").iterdir()):
        if (path / "__init__.py").exists():
            units[f"bot.{path.name}"] = sorted(path.rglob("*.py"))
        elif path.suffix == ".py" and path.name != "__init__.py":
            units[f"bot.{path.stem}"] = [path]
    return units


def _unit_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "handlers":
        return "handlers"
    return f"bot.{parts[1]}" if parts[0] == "bot" and len(parts) > 1 else None


def _imported_units(files: list[Path]) -> set[str]:
    """The packages of `bot` (and `handlers`) that these files import, lazily or not."""
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: relative import"
                modules = [node.module or ""]
                if node.module == "bot":  # `from bot import errors`
                    modules += [f"bot.{alias.name}" for alias in node.names]
            else:
                continue
            found |= {unit for module in modules if (unit := _unit_of(module))}
    return found


def _may_import_column() -> dict[str, set[str]]:
    rows = re.findall(
        r"^\| `(bot/[^`]+)` \|[^|]*\| ([^|]*) \|$", _section("Packages"), flags=re.MULTILINE
    )
    return {
        "bot." + name.removesuffix("/").removesuffix(".py").removeprefix("bot/"): set(
            re.findall(r"`(bot\.\w+|handlers)`", imports)
        )
        for name, imports in rows
    }


def test_the_packages_table_says_what_each_package_imports() -> None:
    real = {unit: _imported_units(files) - {unit} for unit, files in _units().items()}
    assert _may_import_column() == real


def test_the_exceptions_outside_the_root_are_the_ones_the_map_names() -> None:
    # Every exception class of bot/ and handlers/ that derives, at any depth, from a
    # builtin exception and not from BotError.
    bases: dict[str, list[str]] = {}
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                names = [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases]
                bases.setdefault(node.name, []).extend(names)

    def outside(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name == "BotError" or name in seen:
            return False
        builtin = getattr(builtins, name, None)
        if isinstance(builtin, type) and issubclass(builtin, BaseException):
            return True
        return any(outside(base, seen | {name}) for base in bases.get(name, []))

    # A private one (`_LeaseLost`) never leaves its module, so no reader of the map meets it.
    defined = {
        name
        for name in bases
        if not name.startswith("_") and not hasattr(builtins, name) and outside(name)
    }
    text = _section("Errors").split("```")[-1]
    named = set(re.findall(r"`([A-Z][a-z]\w*)`", text))  # CamelCase, not SETTINGS
    assert defined == named
