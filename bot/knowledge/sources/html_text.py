"""HTML (and Confluence storage format) to plain text with Markdown headings.

`<h1>`…`<h6>` become `#` lines so the index can chunk by section; paragraphs, list
items, table rows and line breaks become lines; `<pre>` keeps its layout. What a
reader never sees is dropped: scripts, styles, templates, SVG, forms' hidden parts.
Confluence's code macro keeps its body as CDATA, which is kept as text.
https://confluence.atlassian.com/doc/confluence-storage-format-790796544.html

Built on the standard library's `html.parser`. That parser scans to the end of the
input for the closer of every construct it cannot finish (an unclosed `<!--`, `<a`,
`<![CDATA[`), which is quadratic on a body full of them, and it raises
AssertionError on a marked section it does not know (`<![x[`). `defuse` first turns
every `<` whose construct cannot end into text (`&lt;`), in one pass, so the parser
never rescans and never raises; it shows those characters as text, as the parser
would at the end of the input.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_DROPPED = frozenset(
    {"script", "style", "noscript", "template", "svg", "iframe", "object", "head", "title"}
)
_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "blockquote", "ul", "ol",
        "table", "thead", "tbody", "dl", "dt", "dd", "figure", "figcaption", "hr",
        "ac:structured-macro", "ac:rich-text-body", "ac:task", "ac:layout-section",
    }
)  # fmt: skip
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "source"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
# The openers the parser looks ahead for, and the closers it looks for (as `_markupbase`
# and `html.parser` spell them: `--\s*>`, `]\s*]\s*>`, `]\s*>`, `>`).
_OPENER = re.compile(r"<(?:!--|!\[(?:([a-zA-Z][-_.a-zA-Z0-9]*)\s*)?)?")
_COMMENT_CLOSE = re.compile(r"--\s*>")
_MARKED_CLOSE = re.compile(r"]\s*]\s*>")
_MS_CLOSE = re.compile(r"]\s*>")
_MARKED_NAMES = frozenset({"temp", "cdata", "ignore", "include", "rcdata"})
_MS_NAMES = frozenset({"if", "else", "endif"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._dropped: list[str] = []  # open tags whose content is not shown
        self._dropped_count: dict[str, int] = {}  # the same, counted: membership in O(1)
        self._pre = 0
        self._heading = 0

    def _flush(self, *, blank: bool = True) -> None:
        text = "".join(self._line)
        self._line = []
        if not self._pre:
            text = _SPACES.sub(" ", text).strip()
        if text:
            if self._heading:
                text = "#" * self._heading + " " + text.replace("\n", " ")
            self.lines.append(text)
        elif blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropped:
            if tag not in _VOID:
                self._drop(tag)
            return
        if tag in _DROPPED:
            self._drop(tag)
            return
        if tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag == "br":
            if self._pre:
                self._line.append("\n")
            else:
                self._flush(blank=False)
        elif tag == "li":
            self._flush(blank=False)
            self._line.append("- ")
        elif tag == "tr":
            self._flush(blank=False)
        elif tag in {"td", "th"}:
            if self._line:
                self._line.append(" | ")
        elif tag in _BLOCKS:
            self._flush()

    def _drop(self, tag: str) -> None:
        self._dropped.append(tag)
        self._dropped_count[tag] = self._dropped_count.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if self._dropped:
            # Close up to the matching tag; stray end tags inside do not end the drop.
            # Each tag is pushed and popped once, so the whole input stays linear.
            if self._dropped_count.get(tag):
                while self._dropped:
                    closed = self._dropped.pop()
                    self._dropped_count[closed] -= 1
                    if closed == tag:
                        break
            return
        if tag in _HEADINGS and self._heading:
            self._flush()
            self._heading = 0
        elif tag == "pre" and self._pre:
            self._flush()
            self._pre -= 1
        elif tag in {"li", "tr"}:
            self._flush(blank=False)
        elif tag in _BLOCKS:
            self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID and tag not in _DROPPED:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)
        elif not self._dropped:
            self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if not self._dropped:
            self._line.append(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA[") and not self._dropped:
            self._flush()
            self._pre += 1
            self._line.append(data[len("CDATA[") :])
            self._flush()
            self._pre -= 1


def _last_start(pattern: re.Pattern[str], text: str) -> int:
    """Where the last match of `pattern` starts, -1 if none (linear: each closer's
    whitespace run is scanned once)."""
    last = -1
    for match in pattern.finditer(text):
        last = match.start()
    return last


def defuse(html: str) -> str:
    """`html` with every `<` that opens a construct with no closer after it as `&lt;`."""
    last_gt = html.rfind(">")
    last_comment = _last_start(_COMMENT_CLOSE, html)
    last_marked = _last_start(_MARKED_CLOSE, html)
    last_ms = _last_start(_MS_CLOSE, html)

    def keep_or_escape(match: re.Match[str]) -> str:
        opener, start = match.group(0), match.start()
        if start >= last_gt:
            closes = False
        elif opener == "<!--":
            closes = start + 4 <= last_comment
        elif opener.startswith("<!["):
            name = (match.group(1) or "").lower()
            if name in _MARKED_NAMES:
                closes = start + 3 <= last_marked
            elif name in _MS_NAMES:
                closes = start + 3 <= last_ms
            else:
                closes = False  # the parser would raise AssertionError
        else:
            closes = True
        return opener if closes else "&lt;" + opener[1:]

    return _OPENER.sub(keep_or_escape, html)


def html_to_text(html: str) -> str:
    """The visible text of `html`, headings as Markdown `#` lines.

    Example:
        >>> html_to_text("<h2>Fix</h2><p>Run <code>acmectl renew</code>.</p><script>x()</script>")
        '## Fix\\n\\nRun acmectl renew.'
    """
    parser = _Text()
    parser.feed(defuse(html))
    parser.close()
    parser._flush()
    lines = parser.lines
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)
