"""What the web source reads from a page or a sitemap: canonical URLs, links, scope.

A page's id is its canonical URL: scheme and host lower-case, the default port
dropped, dot segments resolved, the fragment and the query dropped. Dropping the
query folds the copies a site serves of one page (`?utm_source=…`, `?sort=…`,
session ids) into one document and keeps calendars and search pages from
generating endless URLs; a site whose pages differ only by their query cannot be
crawled this way (give such a site a sitemap of path URLs, or a folder source).

Every function here takes hostile text: lengths are capped before parsing, HTML
goes through `html_text.defuse` first, and sitemaps are scanned with `str.find`
from left to right, so each runs in time linear in its input.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser

import httpx

from bot.knowledge.sources.html_text import defuse
from bot.knowledge.sources.vendor_http import clean_title, parse_time
from bot.safety.url_policy import requested_url

MAX_URL = 2048
MAX_LINKS = 5_000  # links kept from one page; a page with more is a link farm
MAX_HREFS = 20_000  # hrefs looked at on one page, repeats included
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(href: str, base: str | None = None) -> str | None:
    """`href` (resolved against `base`) as a page id, or None when it is not an http(s)
    URL the URL policy could allow (user information, encoded dots or slashes, controls).

    Example:
        >>> canonical_url("../b/./c?utm=1#top", "HTTPS://Docs.Example.com:443/a/x")
        'https://docs.example.com/b/c'
    """
    href = href.strip()
    if not href or len(href) > MAX_URL or (base is not None and len(base) > MAX_URL):
        return None
    try:
        url = httpx.URL(base).join(href) if base is not None else httpx.URL(href)
        if url.scheme not in _DEFAULT_PORTS or not url.host:
            return None
        port = None if url.port == _DEFAULT_PORTS[url.scheme] else url.port
        url = url.copy_with(port=port, query=None, fragment=None)
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    text = str(url)
    if len(text) > MAX_URL:
        return None
    return text if requested_url(text) == text else None


@dataclass(frozen=True)
class Scope:
    """The pages a web source may read: one host (and port), paths under `prefix`.

    The start URL's path is the prefix when it ends with `/`, or when its last
    segment has no dot (`/docs` means `/docs/…`); otherwise (`/docs/index.html`)
    its folder is (`/docs/`). `http` on the default port may move to `https`.
    """

    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def of(cls, start: str, *, file: bool = False) -> Scope:
        """The scope of a canonical start URL; with `file`, the URL names a file (a
        sitemap) whatever its name, and its folder is the prefix."""
        url = httpx.URL(start)
        path = url.path or "/"
        last = path.rsplit("/", 1)[-1]
        if not path.endswith("/"):
            path = path[: -len(last)] if "." in last or file else path + "/"
        return cls(url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme], path)

    def same_host(self, canonical: str) -> bool:
        url = httpx.URL(canonical)
        port = url.port or _DEFAULT_PORTS[url.scheme]
        if url.host != self.host:
            return False
        if (url.scheme, port) == (self.scheme, self.port):
            return True
        # An upgrade from http to https, both on their default ports.
        return (self.scheme, self.port, url.scheme, port) == ("http", 80, "https", 443)

    def contains(self, canonical: str) -> bool:
        """Whether a canonical URL is on the host and under the prefix (or is the prefix
        without its trailing slash: `/docs` for `/docs/`)."""
        if not self.same_host(canonical):
            return False
        path = httpx.URL(canonical).path or "/"
        return path.startswith(self.prefix) or path + "/" == self.prefix


@dataclass
class PageMeta:
    """What the crawler needs from a page besides its text."""

    title: str | None = None
    links: list[str] = field(default_factory=list)  # canonical, in page order, each once
    noindex: bool = False
    nofollow: bool = False


class _Links(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.meta = PageMeta()
        self._seen: set[str] = set()
        self._resolved: dict[str, str | None] = {}  # href -> canonical, for repeated hrefs
        self._title: list[str] | None = None
        self._title_done = False
        self._based = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self._title_done:
            self._title = []
        elif tag == "base":
            # Only the first <base> counts (HTML's rule); links are scoped after resolving.
            href = _attr(attrs, "href")
            if href is not None and not self._based:
                self._based = True
                self.base = canonical_url(href, self.base) or self.base
        elif tag == "meta" and (_attr(attrs, "name") or "").lower() in {"robots", "supportbot"}:
            words = {word.strip() for word in (_attr(attrs, "content") or "").lower().split(",")}
            self.meta.noindex |= bool(words & {"noindex", "none"})
            self.meta.nofollow |= bool(words & {"nofollow", "none"})
        elif tag in {"a", "area"} and len(self.meta.links) < MAX_LINKS:
            href = _attr(attrs, "href")
            rel = (_attr(attrs, "rel") or "").lower().split()
            if href is None or "nofollow" in rel or len(self._resolved) >= MAX_HREFS:
                return
            if href not in self._resolved:
                self._resolved[href] = canonical_url(href, self.base)
            link = self._resolved[href]
            if link is not None and link not in self._seen:
                self._seen.add(link)
                self.meta.links.append(link)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            self.meta.title = clean_title("".join(self._title))
            self._title, self._title_done = None, True

    def handle_data(self, data: str) -> None:
        if self._title is not None and sum(map(len, self._title)) < 4096:
            self._title.append(data)


def _attr(attrs: list[tuple[str, str | None]], name: str) -> str | None:
    for key, value in attrs:
        if key == name:
            return value
    return None


def read_page(page_html: str, url: str) -> PageMeta:
    """The title, links (canonical, absolute, each once) and robots meta of a page at `url`.

    Links are not scoped here: the crawler keeps those `Scope.contains` allows.
    """
    parser = _Links(url)
    parser.feed(defuse(page_html))
    parser.close()
    return parser.meta


@dataclass(frozen=True)
class SitemapEntry:
    """One `<url>` (or `<sitemap>` of an index): its canonical location and `lastmod`."""

    url: str
    lastmod: datetime | None


@dataclass
class Sitemap:
    pages: list[SitemapEntry] = field(default_factory=list)
    sitemaps: list[SitemapEntry] = field(default_factory=list)  # a sitemap index's children


def read_sitemap(text: str, url: str, *, limit: int = 50_000) -> Sitemap:
    """The entries of a sitemap or sitemap index, or of a text sitemap (one URL a line).

    The format, from https://www.sitemaps.org/protocol.html: `<urlset>` of `<url>`
    with `<loc>` and optional `<lastmod>` (W3C datetime), or `<sitemapindex>` of
    `<sitemap>` with the same two; at most 50,000 entries a file. Entries are
    scanned with `str.find` (no XML parser, so no entity expansion); a block left
    open ends the scan.
    """
    found = Sitemap()
    body = text.lstrip("\ufeff \t\r\n")
    if not body.startswith("<"):
        for line in body.splitlines()[:limit]:
            if (page := canonical_url(line)) is not None:
                found.pages.append(SitemapEntry(page, None))
        return found
    for tag, into in (("url", found.pages), ("sitemap", found.sitemaps)):
        for block in _blocks(body, tag, limit):
            loc = _element(block, "loc")
            if loc is None or (location := canonical_url(html.unescape(loc), url)) is None:
                continue
            lastmod = _element(block, "lastmod")
            into.append(SitemapEntry(location, parse_time(lastmod.strip()) if lastmod else None))
    return found


def _blocks(text: str, tag: str, limit: int) -> list[str]:
    """The contents of each `<tag>…</tag>` (exact tag, any attributes), left to right."""
    opener, closer = f"<{tag}", f"</{tag}>"
    blocks: list[str] = []
    at = 0
    while len(blocks) < limit:
        start = text.find(opener, at)
        if start < 0:
            break
        after = start + len(opener)
        if text[after : after + 1] not in {">", " ", "\t", "\r", "\n"}:
            at = after  # `<urlset`, `<sitemapindex`: another element
            continue
        end = text.find(closer, after)
        if end < 0:
            break
        blocks.append(text[after:end])
        at = end + len(closer)
    return blocks


def _element(block: str, tag: str) -> str | None:
    start = block.find(f"<{tag}>")
    if start < 0:
        return None
    start += len(tag) + 2
    end = block.find(f"</{tag}>", start)
    return block[start:end] if end >= 0 and end - start <= MAX_URL else None
