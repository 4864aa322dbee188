"""A file's bytes as text with Markdown `#` headings, whatever its format.

Markdown keeps its headings and gives its front-matter `title:`; reStructuredText's
underlined titles become `#` lines (levels in the order the adornments first
appear, as docutils assigns them); HTML loses scripts, styles and everything
that is not shown, and its `<h1>` to `<h6>` become `#` lines; PDF text comes from
pypdf's text layer (a scanned PDF has none and is skipped with that reason).
Bytes that are not text (a binary file named `.md`) are refused.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser

SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt", ".text", ".html", ".htm", ".pdf"})
_MAX_PDF_PAGES = 2000


@dataclass(frozen=True)
class ReadText:
    """A file's text and title, or why it could not be read."""

    text: str = ""
    title: str | None = None
    error: str | None = None


def read_file(data: bytes, *, suffix: str) -> ReadText:
    """The text of a file of this suffix (`.md`, `.rst`, `.html`, `.txt`, `.pdf`)."""
    if suffix == ".pdf":
        return _pdf(data)
    text = _decode(data)
    if text is None:
        return ReadText(error="not text (binary content)")
    if suffix in (".html", ".htm"):
        return html_text(text)
    if suffix == ".rst":
        return _rst(text)
    if suffix in (".md", ".markdown"):
        return _markdown(text)
    return ReadText(text=text)


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    return None if controls > 32 else text


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.DOTALL)
_TITLE_LINE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_FIRST_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def _markdown(text: str) -> ReadText:
    title = None
    if front := _FRONT_MATTER.match(text):
        if line := _TITLE_LINE.search(front.group(1)):
            title = line.group(1).strip("\"'")
        text = text[front.end() :]
    if title is None and (heading := _FIRST_HEADING.search(text)):
        title = heading.group(1)
    return ReadText(text=text, title=title)


_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}[ \t]*$")


def _rst(text: str) -> ReadText:
    lines = text.splitlines()
    out: list[str] = []
    levels: list[str] = []
    title = None
    i = 0
    while i < len(lines):
        line = lines[i]
        over = _ADORNMENT.match(line)
        # An overlined title: adornment, text, the same adornment.
        if (
            over
            and i + 2 < len(lines)
            and lines[i + 2].strip() == line.strip()
            and lines[i + 1].strip()
        ):
            key = "over" + line[0]
            heading, i = lines[i + 1].strip(), i + 3
        elif (
            line.strip()
            and i + 1 < len(lines)
            and (under := _ADORNMENT.match(lines[i + 1]))
            and len(lines[i + 1].rstrip()) >= len(line.rstrip())
        ):
            key = under.group(1)
            heading, i = line.strip(), i + 2
        else:
            out.append(line)
            i += 1
            continue
        if key not in levels:
            levels.append(key)
        level = min(levels.index(key) + 1, 6)
        title = title or heading
        out.append(f"{'#' * level} {heading}")
    return ReadText(text="\n".join(out), title=title)


class _Html(HTMLParser):
    _HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe"})
    _BLOCK = frozenset({"p", "div", "li", "br", "tr", "pre", "section", "article", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self._hidden = 0
        self._in_title = False
        self._heading: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = int(tag[1])
            self.parts.append(f"\n\n{'#' * self._heading} ")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "title":
            self._in_title = False
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = None
            self.parts.append("\n\n")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data.strip()
        elif self._hidden == 0:
            self.parts.append(data.replace("\n", " ") if self._heading else data)


def html_text(html: str) -> ReadText:
    """The visible text of an HTML page, headings as `#` lines, and its `<title>`."""
    parser = _Html()
    parser.feed(html)
    parser.close()
    text = re.sub(r"\n[ \t]*(?:\n[ \t]*)+", "\n\n", "".join(parser.parts)).strip()
    title = parser.title or None
    if title is None and (heading := _FIRST_HEADING.search(text)):
        title = heading.group(1)
    return ReadText(text=text, title=title)


def _pdf(data: bytes) -> ReadText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > _MAX_PDF_PAGES:
            return ReadText(
                error=f"{len(reader.pages):,} pages, over the {_MAX_PDF_PAGES:,}-page cap"
            )
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        return ReadText(error=f"not a readable PDF ({type(error).__name__})")
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        return ReadText(error="the PDF has no text layer (a scanned PDF needs OCR first)")
    return ReadText(text=text, title=str(meta_title) if meta_title else None)
