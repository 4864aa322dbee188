"""The citation markers of an answer: `[1]`, and the full-width forms a model writes in
Chinese or Japanese (lenticular brackets U+3010/U+3011, full-width square brackets
U+FF3B/U+FF3D, full-width digits U+FF10-U+FF19), all read as the same citation.

The one place answers' markers are read, by the diagnosis (`Diagnosis.citations`)
and by the eval's citation scores alike. An answer is the model's text, as hostile
as any: it is read in one pass, a character-for-character translation then one
bounded pattern, linear in its length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Each full-width bracket or digit becomes its ASCII form, one character for one, so
# positions in the normalised text are positions in the answer.
FULL_WIDTH_OPENERS = "\u3010\uff3b"
FULL_WIDTH_CLOSERS = "\u3011\uff3d"
FULL_WIDTH_DIGITS = "".join(chr(0xFF10 + digit) for digit in range(10))
_MARKS = str.maketrans(
    FULL_WIDTH_OPENERS + FULL_WIDTH_CLOSERS + FULL_WIDTH_DIGITS,
    "[" * len(FULL_WIDTH_OPENERS) + "]" * len(FULL_WIDTH_CLOSERS) + "0123456789",
)
_CITATION = re.compile(r"\[(\d{1,2})\]")


def normalise_citations(text: str) -> str:
    """`text` with full-width citation brackets and digits in their ASCII form.

    Example:
        >>> normalise_citations("restart it \\u30101\\u3011, see \\uff3b\\uff12\\uff3d.")
        'restart it [1], see [2].'
    """
    return text.translate(_MARKS)


def cited(answer: str, passages: Sequence[object]) -> tuple[int, ...]:
    """The passage numbers (from 1) the answer cites, in order, each once.

    Example:
        >>> cited("See [2] and \\u30101\\u3011, again [2]; [9] does not exist.", ["a", "b"])
        (2, 1)
    """
    found: list[int] = []
    for match in _CITATION.finditer(normalise_citations(answer)):
        number = int(match.group(1))
        if 1 <= number <= len(passages) and number not in found:
            found.append(number)
    return tuple(found)
