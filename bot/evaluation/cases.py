"""The eval cases: what the screenshot shows, what a user asks, and what a right answer says.

Definitions live in `set/cases/*.toml` (one file per category, shipped as package
data); `set/manifest.json` is written by the generator and records, per case, the
rendered file, its size and the height of its smallest text line.

A case in TOML:

    [[case]]
    id = "py-module-not-found"
    language = "en"                 # the user's language: "en" or "zh-CN"
    question = "what does this mean?"  # what the user typed; "" for a bare screenshot
    cause = ["no module named", "requests.*not installed"]  # any one matches (regex, any case)
    fix = ["pip install requests"]  # any one matches
    secret = ""                     # planted in the screenshot; must never be echoed
    unreadable = []                 # binary files sent beside it; the answer must say so
    style = "terminal-dark"         # see `rendering.STYLES`
    font = "mono"                   # see `rendering.FONTS`
    size = 14                       # font size in points at 1x
    scale = 1                       # 1 or 2 (a HiDPI screenshot)
    effects = ["jpeg:35", "crop", "photo"]
    title = "bash"
    text = '''…what is on the screen…'''
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from bot.messages import Language

SET_PACKAGE = "bot.evaluation"
SET_DIRECTORY = "set"

_LANGUAGES = {"en": Language.ENGLISH, "zh-CN": Language.CHINESE}
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")


class CaseError(ValueError):
    """A case definition that cannot be used, with the case and the reason."""


@dataclass(frozen=True)
class Rendering:
    """How the screenshot looks; only the generator reads it."""

    style: str
    font: str
    size: int
    scale: int
    effects: tuple[str, ...]
    title: str
    text: str


@dataclass(frozen=True)
class EvalCase:
    """One screenshot, the question asked about it, and what a right answer contains."""

    id: str
    category: str
    language: Language
    locale: str  # as written in the definition: "en" or "zh-CN"
    question: str
    cause: tuple[re.Pattern[str], ...]
    fix: tuple[re.Pattern[str], ...]
    secret: str
    rendering: Rendering
    follow_up: str = ""  # asked after the first answer, without the screenshot; scored instead
    mixed: bool = False  # the screen and the question are in different languages
    notes: str = ""
    # Files sent beside the screenshot that the bot cannot read (binary dumps): the
    # answer must say it could not read them rather than answer as if it had.
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedCase:
    """What the generator recorded for a case: file, pixel size, smallest text line."""

    file: str
    width: int
    height: int
    smallest_line_px: float  # the smallest body text line's height, in screenshot pixels
    sha256: str


@dataclass(frozen=True)
class EvalSet:
    cases: tuple[EvalCase, ...]
    rendered: dict[str, RenderedCase] = field(default_factory=dict)
    fonts: dict[str, str] = field(default_factory=dict)  # font key -> font file the generator used

    def image(self, case: EvalCase) -> Traversable:
        return set_root().joinpath("images", self.rendered[case.id].file)


def set_root() -> Traversable:
    """The shipped set's folder inside the installed package."""
    return resources.files(SET_PACKAGE).joinpath(SET_DIRECTORY)


def _patterns(case_id: str, key: str, raw: object) -> tuple[re.Pattern[str], ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p for p in raw):
        raise CaseError(f"{case_id}: `{key}` must be a non-empty list of patterns")
    try:
        return tuple(re.compile(p, re.IGNORECASE | re.DOTALL) for p in raw)
    except re.error as error:
        raise CaseError(f"{case_id}: bad pattern in `{key}`: {error}") from error


def parse_case(category: str, raw: dict[str, object]) -> EvalCase:
    """One `[[case]]` table as an `EvalCase`; raises `CaseError` saying what is wrong."""
    case_id = str(raw.get("id", ""))
    if not _ID.match(case_id):
        raise CaseError(f"{category}: bad case id {case_id!r} (lowercase letters, digits, '-')")
    locale = str(raw.get("language", ""))
    if locale not in _LANGUAGES:
        raise CaseError(f"{case_id}: language must be one of {sorted(_LANGUAGES)}")
    text = str(raw.get("text", "")).strip("\n")
    if not text.strip():
        raise CaseError(f"{case_id}: `text` (what the screen shows) is empty")
    secret = str(raw.get("secret", ""))
    if secret and secret not in text:
        raise CaseError(f"{case_id}: the planted secret does not appear in `text`")
    effects = raw.get("effects", [])
    if not isinstance(effects, list):
        raise CaseError(f"{case_id}: `effects` must be a list")
    unreadable = raw.get("unreadable", [])
    if not isinstance(unreadable, list) or not all(
        isinstance(name, str) and _FILE_NAME.match(name) for name in unreadable
    ):
        raise CaseError(f"{case_id}: `unreadable` must be a list of plain file names")
    scale = int(str(raw.get("scale", 1)))
    if scale not in (1, 2):
        raise CaseError(f"{case_id}: scale must be 1 or 2")
    return EvalCase(
        id=case_id,
        category=category,
        language=_LANGUAGES[locale],
        locale=locale,
        question=str(raw.get("question", "")),
        cause=_patterns(case_id, "cause", raw.get("cause")),
        fix=_patterns(case_id, "fix", raw.get("fix")),
        secret=secret,
        rendering=Rendering(
            style=str(raw.get("style", "terminal-dark")),
            font=str(raw.get("font", "mono")),
            size=int(str(raw.get("size", 14))),
            scale=scale,
            effects=tuple(str(e) for e in effects),
            title=str(raw.get("title", "")),
            text=text,
        ),
        follow_up=str(raw.get("follow_up", "")),
        mixed=bool(raw.get("mixed", False)),
        notes=str(raw.get("notes", "")),
        unreadable=tuple(unreadable),
    )


def parse_category(category: str, source: str) -> list[EvalCase]:
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise CaseError(f"{category}.toml: {error}") from error
    tables = document.get("case", [])
    if not isinstance(tables, list):
        raise CaseError(f"{category}.toml: cases are [[case]] tables")
    return [parse_case(category, table) for table in tables]


def _read_manifest(root: Traversable) -> tuple[dict[str, RenderedCase], dict[str, str]]:
    manifest = root.joinpath("manifest.json")
    if not manifest.is_file():
        return {}, {}
    document = json.loads(manifest.read_text("utf-8"))
    rendered = {
        case_id: RenderedCase(**entry) for case_id, entry in document.get("cases", {}).items()
    }
    return rendered, dict(document.get("fonts", {}))


@cache
def load_set() -> EvalSet:
    """Every shipped case, in file then definition order, with what the generator recorded.

    Raises:
        CaseError: a definition is malformed, or two cases share an id.
    """
    root = set_root()
    cases: list[EvalCase] = []
    files = sorted(
        (entry for entry in root.joinpath("cases").iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: entry.name,
    )
    for entry in files:
        cases.extend(parse_category(entry.name.removesuffix(".toml"), entry.read_text("utf-8")))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise CaseError(f"{case.id}: defined twice")
        seen.add(case.id)
    rendered, fonts = _read_manifest(root)
    return EvalSet(tuple(cases), rendered, fonts)


def select(
    cases: tuple[EvalCase, ...],
    *,
    categories: tuple[str, ...] = (),
    languages: tuple[Language, ...] = (),
    ids: tuple[str, ...] = (),
    limit: int | None = None,
) -> list[EvalCase]:
    """The cases that match every filter given, in order, at most `limit` of them."""
    chosen = [
        case
        for case in cases
        if (not categories or case.category in categories)
        and (not languages or case.language in languages)
        and (not ids or case.id in ids)
    ]
    return chosen[:limit] if limit is not None else chosen
