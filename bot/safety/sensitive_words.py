"""A configurable list of words the bot must never say, matched fast and loosely.

Matching ignores case and character width (a full-width ABC matches `abc`),
sees through the disguises `bot.safety.normalised` undoes (zero-width and
soft-hyphen characters, `%XX`, a word cut by a line break), works for Chinese,
and stays fast for thousands of words: the list is compiled into one regular
expression shaped like a trie, so each position of the text is tried against
shared prefixes once rather than against every word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot.safety.normalised import fold


def normalise(text: str) -> str:
    """Fold a listed word the way text is folded for matching (width, case, spacing)."""
    return fold(text, casefold=True, percent=True, collapse_space=True).text


def _trie_pattern(words: Iterable[str]) -> str:
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict) -> str:  # type: ignore[type-arg]
        ends = "" in node
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            body = f"(?:{body})?"
        return body

    return render(trie)


class SensitiveWords:
    """Finds listed words in text, returning spans of the original (unfolded) text.

    Words made of letters and digits only match as whole words ("ass" does not
    match inside "class"); other entries (Chinese, phrases with symbols) match anywhere.

    Example:
        >>> SensitiveWords(["project phoenix"]).spans("About PROJECT Phoenix today")
        [(6, 21)]
    """

    def __init__(self, words: Iterable[str]) -> None:
        folded = {normalise(word).strip() for word in words if word.strip()}
        whole = {w for w in folded if re.fullmatch(r"[\w ]+", w, re.ASCII)}
        anywhere = folded - whole
        self._patterns: list[re.Pattern[str]] = []
        if whole:
            self._patterns.append(
                re.compile(rf"(?<![0-9a-z_])(?:{_trie_pattern(whole)})(?![0-9a-z_])")
            )
        if anywhere:
            self._patterns.append(re.compile(_trie_pattern(anywhere)))
        self.longest = max((len(w) for w in folded), default=0)
        self.count = len(folded)

    @classmethod
    def from_file(cls, path: Path) -> SensitiveWords:
        """One word or phrase per line; blank lines and lines starting with `#` are skipped."""
        lines = path.read_text("utf-8").splitlines()
        return cls(line for line in lines if line.strip() and not line.lstrip().startswith("#"))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Spans of the original text where a listed word appears, disguised or not."""
        if not self._patterns:
            return []
        found: set[tuple[int, int]] = set()
        views = (
            fold(text, casefold=True, percent=True, collapse_space=True),
            fold(text, casefold=True, percent=True, join_lines=True, collapse_space=True),
        )
        for view in views:
            for pattern in self._patterns:
                for match in _longest_matches(pattern, view.text):
                    found.add(view.span(match.start(), match.end()))
        return sorted(found)


def _longest_matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    yield from (match for match in pattern.finditer(text) if match.end() > match.start())
