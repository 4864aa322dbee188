"""The text as a matcher should see it, with a map back to the characters it came from.

Secrets and sensitive words are disguised cheaply: a zero-width space or a soft
hyphen inside a key, full-width letters and digits, `%41` for `A`, a token cut
by a line break. Matchers run on a folded view of the text in which those
disguises are undone, and every folded character remembers the span of the
original text it came from, so what is replaced is always the original span.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

# Characters that render as nothing (or almost nothing) and so can hide inside a word:
# every format character (Cf: soft hyphen, zero-width space/joiners, word joiner, BOM,
# bidi controls), plus the combining grapheme joiner, Hangul fillers and variation selectors.
_INVISIBLE_EXTRA = {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"} | {
    chr(code) for code in range(0xFE00, 0xFE10)
}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
# Characters that make up tokens, keys and addresses: a line break between two of them
# is taken as a token cut in two.
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9+/=_.@-]")
# A cut inside a token: a line break (with the spaces around it), or the end of one code
# span and the start of the next (`AKIA0000` `0000…` reads as one key once rendered).
# Spaces, tabs and invisible characters may stand on either side of the line break
# (`AKIA` + line break + zero-width space + `IOSF…` renders as the plain cut does).
_LINE_BREAK = ("\r\n", "\r", "\n")
# Dashes that read as `-` (hyphen, non-breaking hyphen, en dash, minus sign): NFKC leaves
# them as they are, so `xoxb` + U+2011 + `1234…` read as no token at all.
_DASHES = {chr(code) for code in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212, 0xFE58)}


def _skip_blank(text: str, index: int) -> int:
    while index < len(text) and (text[index] in " \t" or invisible(text[index])):
        index += 1
    return index


def _skip_line_break(text: str, index: int) -> int | None:
    for brk in _LINE_BREAK:
        if text.startswith(brk, index):
            return index + len(brk)
    return None


def _cut_end(text: str, index: int) -> int | None:
    """Where a cut starting at `index` ends, or None: a line break with blanks around it,
    or the end of one code span and the start of the next (`` `ab` `cd` ``)."""
    if text.startswith("`", index):
        after = _skip_blank(text, index + 1)
        broken = _skip_line_break(text, after)
        if broken is not None:
            after = _skip_blank(text, broken)
        return after + 1 if text.startswith("`", after) else None
    broken = _skip_line_break(text, _skip_blank(text, index))
    return None if broken is None else _skip_blank(text, broken)


def _token_follows(text: str, index: int, *, percent: bool) -> bool:
    """Whether the first visible character at `index` (`%XX` decoded) is a token character."""
    while index < len(text) and invisible(text[index]):
        index += 1
    if index >= len(text):
        return False
    char = text[index]
    if percent and (match := _PERCENT.match(text, index)) is not None:
        char = chr(int(match.group(1), 16))
    return _TOKEN_CHAR.match(_fold_char(char, False)[:1] or " ") is not None


def invisible(char: str) -> bool:
    """Whether `char` shows as nothing, so a word with it inside reads as the word without."""
    return unicodedata.category(char) == "Cf" or char in _INVISIBLE_EXTRA


@cache
def _fold_char(char: str, casefold: bool) -> str:
    folded = "-" if char in _DASHES else unicodedata.normalize("NFKC", char)
    return folded.casefold() if casefold else folded


@dataclass(frozen=True)
class Folded:
    """A folded view of some text: `text[i]` came from `original[starts[i]:ends[i]]`."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    # Where a token cut was joined: `text[j]` is the first character after the cut. A
    # token may begin there even though a token character precedes it in `text`.
    joins: tuple[int, ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that folded characters `start..end` came from (end > start)."""
        return self.starts[start], self.ends[end - 1]


def fold(
    text: str,
    *,
    casefold: bool = False,
    percent: bool = False,
    join_lines: bool = False,
    collapse_space: bool = False,
) -> Folded:
    """Undo the disguises a matcher should see through.

    Always: invisible characters are dropped and each character is NFKC-normalised
    (full-width letters, digits and at signs become their ASCII selves). Optionally: case folded;
    `%XX` escapes of ASCII decoded; a line break between two token characters dropped
    (a key cut in two), and so is the boundary between two code spans (`` `ab` `cd` ``);
    any run of whitespace read as one space.

    Example:
        >>> fold("ab\\u200bc%40d", percent=True).text
        'abc@d'
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    joins: list[int] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if percent and char == "%":
            match = _PERCENT.match(text, index)
            if match is not None and int(match.group(1), 16) < 0x80:
                decoded = chr(int(match.group(1), 16))
                if decoded.isprintable() and not invisible(decoded):
                    for piece in _fold_char(decoded, casefold):
                        chars.append(piece)
                        starts.append(index)
                        ends.append(index + 3)
                    index += 3
                    continue
        # Only right after a token character: a run of spaces is then scanned once, not
        # again from each of its characters (quadratic over a long run of spaces).
        if join_lines and char in " \t\r\n`" and chars and _TOKEN_CHAR.match(chars[-1]):
            cut_end = _cut_end(text, index)
            if cut_end is not None and _token_follows(text, cut_end, percent=percent):
                index = cut_end
                joins.append(len(chars))
                continue
        if collapse_space and char.isspace():
            end = index + 1
            while end < length and (text[end].isspace() or invisible(text[end])):
                end += 1
            chars.append(" ")
            starts.append(index)
            ends.append(end)
            index = end
            continue
        if not invisible(char):
            for piece in _fold_char(char, casefold):
                chars.append(piece)
                starts.append(index)
                ends.append(index + 1)
        index += 1
    return Folded("".join(chars), tuple(starts), tuple(ends), tuple(joins))
