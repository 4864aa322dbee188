"""HTML (and Confluence storage format) to plain text with Markdown headings.

`<h1>`…`<h6>` become `#` lines so the index can chunk by section; paragraphs, list
items, table rows and line breaks become lines; `<pre>` keeps its layout. What a
reader never sees is dropped: scripts, styles, templates, SVG, forms' hidden parts.
Confluence's code macro keeps its body as CDATA, which is kept as text.
https://confluence.atlassian.com/doc/confluence-storage-format-790796544.html

Built on the standard library's `html.parser`, which reads the input once.
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


def html_to_text(html: str) -> str:
    """The visible text of `html`, headings as Markdown `#` lines.

    Example:
        >>> html_to_text("<h2>Fix</h2><p>Run <code>acmectl renew</code>.</p><script>x()</script>")
        '## Fix\\n\\nRun acmectl renew.'
    """
    parser = _Text()
    parser.feed(html)
    parser.close()
    parser._flush()
    lines = parser.lines
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)
