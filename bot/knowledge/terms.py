"""The words the lexical index keeps: error codes whole, Chinese as overlapping bigrams.

Error texts carry most of their meaning in exact tokens (`ECONNREFUSED`,
`ERR_CERT_DATE_INVALID`, `ACME-4012`), so a code is kept as one term and also as
its parts; Chinese has no spaces, so each run of Han characters is indexed as
its character bigrams (the same segmentation the resolutions index has used), which
needs no dictionary and finds a word wherever it appears in a run.
"""

from __future__ import annotations

import re

# Linear: each alternative consumes at least one character and nothing backtracks
# past a separator, so a 40,000-character run costs one pass.
_WORD = re.compile(r"[a-z0-9_]+(?:[.:\-/][a-z0-9_]+)*|[\u3400-\u9fff]+")
_HAN = re.compile(r"[\u3400-\u9fff]")
_STOP_WORDS = (
    "a an and are as at be but by do does for from how i in is it my of on or the "
    "this to was what when why with you your me can not we our get got"
)
_STOP = frozenset(_STOP_WORDS.split())
_LONGEST_TERM = 64


def terms(text: str) -> list[str]:
    """Lower-cased terms of `text`, in order, for indexing and for queries.

    Example:
        >>> terms("ACME-4012: vault token 过期了")
        ['acme-4012', 'acme', '4012', 'vault', 'token', '过期', '期了']
    """
    found: list[str] = []
    for token in _WORD.findall(text.lower()):
        if _HAN.match(token):
            found.extend(token[i : i + 2] for i in range(max(1, len(token) - 1)))
            continue
        token = token[:_LONGEST_TERM]
        if token in _STOP or len(token) < 2:
            continue
        found.append(token)
        parts = [p for p in re.split(r"[.:\-/_]", token) if len(p) > 1 and p not in _STOP]
        if len(parts) > 1:
            found.extend(parts)
    return found
