"""A configurable list of words the bot must never say, matched fast and loosely.

Matching ignores case and character width (a full-width ABC matches `abc`),
works for Chinese, and stays fast for thousands of words: the list is compiled
into one regular expression shaped like a trie, so each position of the text is
tried against shared prefixes once rather than against every word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path


def normalise_char(char: str) -> str:
    """Fold one character the way words are compared: NFKC (width), then case."""
    return unicodedata.normalize("NFKC", char).casefold()


def normalise(text: str) -> tuple[str, list[int]]:
    """The folded text, and for each folded character the index of its source character."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for piece in normalise_char(char):
            folded.append(piece)
            origin.append(index)
    return "".join(folded), origin


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
        folded = {"".join(normalise(word.strip())[0]) for word in words if word.strip()}
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
        if not self._patterns:
            return []
        folded, origin = normalise(text)
        return sorted(
            (origin[match.start()], origin[match.end() - 1] + 1)
            for pattern in self._patterns
            for match in _longest_matches(pattern, folded)
        )


def _longest_matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    yield from (match for match in pattern.finditer(text) if match.end() > match.start())
