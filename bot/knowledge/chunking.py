"""Documents cut into passages that follow their headings.

Each chunk keeps the document's title and the path of headings above it
(`Vault > Tokens > Renewal`), so a passage read alone still says where it is from.
Sections longer than `max_chars` are cut at paragraph breaks (at a hard limit when
one paragraph is longer still).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")


@dataclass(frozen=True)
class Chunk:
    """One passage of a document: its heading path and its text."""

    section: str
    text: str


def chunk_document(text: str, *, max_chars: int = 1200) -> list[Chunk]:
    """The passages of a document whose headings are Markdown `#` lines.

    Example:
        >>> [c.section for c in chunk_document("# A\\nx\\n## B\\ny\\n# C\\nz")]
        ['A', 'A > B', 'C']
    """
    path: list[tuple[int, str]] = []
    chunks: list[Chunk] = []
    lines: list[str] = []

    def flush() -> None:
        body = "\n".join(lines).strip()
        lines.clear()
        if body:
            section = " > ".join(title for _, title in path)
            chunks.extend(Chunk(section, piece) for piece in _pieces(body, max_chars))

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        flush()
        level = len(heading.group(1))
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, heading.group(2).strip()[:200]))
    flush()
    return chunks


def _pieces(body: str, max_chars: int) -> list[str]:
    if len(body) <= max_chars:
        return [body]
    pieces: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", body):
        while len(paragraph) > max_chars:  # one paragraph longer than a chunk
            if current:
                pieces.append(current)
                current = ""
            pieces.append(paragraph[:max_chars])
            paragraph = paragraph[max_chars:]
        if current and len(current) + len(paragraph) + 2 > max_chars:
            pieces.append(current)
            current = paragraph
        else:
            current = f"{current}\n\n{paragraph}" if current else paragraph
    if current.strip():
        pieces.append(current)
    return [piece.strip() for piece in pieces if piece.strip()]
