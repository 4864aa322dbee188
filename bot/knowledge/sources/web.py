"""Web pages as a knowledge source: a site under a start URL, or the pages of a sitemap.

- Same host only, and only paths under the start URL's prefix (`Scope`); with
  `sitemap`, the sitemap's folder is the prefix (sitemaps.org: "a Sitemap file
  located at http://example.com/catalog/sitemap.xml can include any URLs starting
  with http://example.com/catalog/"), or `url`'s when both are given.
  https://www.sitemaps.org/protocol.html#location
- Pages are read breadth-first from the start page (or in the sitemap's order),
  at most `max_pages` requests; links are followed from pages only in start-URL mode.
- robots.txt is read first, through the same guarded requests, and honoured for
  the `supportbot` user agent (RFC 9309: a 4xx means no rules; a 5xx or an
  unreachable file means nothing may be read, so the sync fails and the previous
  index keeps answering; at least 500 KiB is parsed). `Crawl-delay` is honoured
  up to `max_delay` seconds. A page's `<meta name="robots">` `noindex` and
  `nofollow` are honoured too.
  https://www.rfc-editor.org/rfc/rfc9309.html#section-2.3.1
- Every request, and every redirect hop, is checked before it is sent: a canonical
  http(s) URL, on the host, under the prefix (pages), allowed by robots.txt, and
  allowed by the URL policy (`PublicHostPolicy`: every address the host resolves
  to public, unless inside `allowed_networks`, which an admin sets for an intranet
  site). httpx never follows a redirect by itself.
- A page must be HTML (`text/html`, `application/xhtml+xml`) under `max_bytes`,
  read as a stream and abandoned past the cap. A page that fails is listed with
  its reason, so the sync summary shows it and its earlier copy stays; a page
  answering 404 or 410 is gone and is not listed, so its earlier copy is removed.

A page's id and link are its canonical URL (`web_links.canonical_url`, query
dropped); its updated time is the sitemap's `lastmod`, else `Last-Modified`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.robotparser
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from bot.errors import KnowledgeSourceError
from bot.knowledge.sources.base import Document, DocumentRef, Visibility
from bot.knowledge.sources.html_text import html_to_text
from bot.knowledge.sources.vendor_http import clean_title
from bot.knowledge.sources.web_links import (
    Scope,
    SitemapEntry,
    canonical_url,
    read_page,
    read_sitemap,
)
from bot.safety.url_policy import IPNetwork, PublicHostPolicy, Resolver, resolve

log = logging.getLogger(__name__)

USER_AGENT = "supportbot"  # the token robots.txt groups are matched against
_HEADERS = {
    "User-Agent": f"{USER_AGENT}/1 (knowledge sync)",
    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
}
MAX_BYTES = 5 * 1024 * 1024
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # sitemaps.org: "no larger than 50MB (uncompressed)"
MAX_SITEMAPS = 50  # files read from a sitemap index
ROBOTS_BYTES = 512 * 1024  # RFC 9309 section 2.5: parse at least 500 KiB
MAX_REDIRECTS = 5  # RFC 9309 section 2.3.1.2: follow at least five hops
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class _Skip(Exception):
    """A URL that cannot become a document, and why (one line for the summary)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Gone(_Skip):
    """404 or 410: the page no longer exists (caught before `_Skip` wherever it differs)."""

    def __init__(self) -> None:
        super().__init__("gone (HTTP 404 or 410)")


@dataclass(frozen=True)
class _Response:
    url: str  # canonical, after redirects
    content_type: str
    charset: str | None
    last_modified: datetime | None
    body: bytes


class WebSource:
    """The pages of one site under `url`, or those a `sitemap` lists.

    Args:
        name: the source's configured name.
        visibility: who may be answered from these pages.
        url: the start page; links are followed from it (unless `sitemap` is given).
        sitemap: a sitemap (or sitemap index, or text sitemap) listing the pages.
        max_pages: at most this many page requests a sync (redirect hops not counted).
        max_bytes: a larger page is skipped, read no further than the cap.
        allowed_networks: private networks this source may read anyway (an intranet).
        resolver: name resolution for the URL policy (the system's by default).
        client: an httpx client to send through; default: one of its own, closed by
            `aclose()`.
    """

    def __init__(
        self,
        *,
        name: str,
        visibility: Visibility,
        url: str | None = None,
        sitemap: str | None = None,
        max_pages: int = 500,
        max_bytes: int = MAX_BYTES,
        allowed_networks: list[IPNetwork] | None = None,
        resolver: Resolver = resolve,
        client: httpx.AsyncClient | None = None,
        timeout: float = 20.0,
        max_delay: float = 10.0,
    ) -> None:
        self._name = name
        self._visibility = visibility
        start = canonical_url(url) if url is not None else None
        listing = canonical_url(sitemap) if sitemap is not None else None
        if (url is not None and start is None) or (sitemap is not None and listing is None):
            raise KnowledgeSourceError(name, "`url` and `sitemap` must be plain http(s) URLs")
        if start is None and listing is None:
            raise KnowledgeSourceError(name, "a web source needs `url` or `sitemap`")
        self._start = start
        self._sitemap = listing
        self._scope = Scope.of(start) if start is not None else Scope.of(listing or "", file=True)
        if start is not None and listing is not None and not self._scope.same_host(listing):
            raise KnowledgeSourceError(name, "`sitemap` must be on the host of `url`")
        self._policy = PublicHostPolicy(
            [self._scope.host], allowed_networks=allowed_networks, resolver=resolver
        )
        self._max_pages = max_pages
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._max_delay = max_delay
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()
        self._robots: urllib.robotparser.RobotFileParser | None = None
        self._delay = 0.0
        self._last_request = 0.0
        self._held: tuple[str, Document | str] | None = None  # the page just listed

    @property
    def name(self) -> str:
        return self._name

    async def documents(self) -> AsyncIterator[DocumentRef]:
        self._robots = None
        await self._read_robots()
        if self._sitemap is not None:
            entries = await self._sitemap_pages(self._sitemap)
            if not entries:  # an empty listing would remove every page indexed before
                raise KnowledgeSourceError(
                    self._name, f"the sitemap lists no pages under {self._scope.prefix}"
                )
            async for ref in self._read_all(deque(entries), follow=False):
                yield ref
        else:
            assert self._start is not None
            async for ref in self._read_all(deque([SitemapEntry(self._start, None)]), follow=True):
                yield ref

    async def fetch(self, ref: DocumentRef) -> Document:
        held, self._held = self._held, None
        if held is None or held[0] != ref.id:  # not the page just listed: read it again
            if self._robots is None:
                await self._read_robots()
            try:
                held = (ref.id, self._document(await self._page(ref.id), ref.updated)[0])
            except _Skip as skip:
                held = (ref.id, skip.reason)
        if isinstance(held[1], str):
            raise KnowledgeSourceError(self._name, held[1])
        return held[1]

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # The crawl.

    async def _read_all(
        self, queue: deque[SitemapEntry], *, follow: bool
    ) -> AsyncIterator[DocumentRef]:
        queued = {entry.url for entry in queue}
        listed: set[str] = set()
        requests = 0
        start = queue[0].url if follow and queue else None
        while queue:
            entry = queue.popleft()
            if not self._allowed_by_robots(entry.url):
                if entry.url == start:
                    raise KnowledgeSourceError(self._name, "robots.txt disallows the start page")
                continue  # never requested, never listed: an earlier copy is removed
            if requests >= self._max_pages:
                left = 1 + sum(1 for rest in queue if self._allowed_by_robots(rest.url))
                yield self._failed(
                    entry.url,
                    f"not read: the page limit (max_pages = {self._max_pages}) was reached "
                    f"with {left} pages left",
                )
                return
            requests += 1
            try:
                response = await self._page(entry.url)
            except _Skip as skip:
                if entry.url == start:
                    # Nothing else can be found: fail, so the previous index stays whole.
                    raise KnowledgeSourceError(
                        self._name, f"the start page could not be read ({skip.reason})"
                    ) from None
                if isinstance(skip, _Gone):
                    continue
                if entry.url not in listed:
                    listed.add(entry.url)
                    yield self._failed(entry.url, skip.reason)
                continue
            document, meta_links, noindex = self._document(response, entry.lastmod)
            if follow:
                for link in meta_links:
                    if link not in queued and self._scope.contains(link):
                        queued.add(link)
                        queue.append(SitemapEntry(link, None))
            if noindex or document.ref.id in listed:  # a redirect to a page already read
                continue
            listed.add(document.ref.id)
            self._held = (document.ref.id, document)
            yield document.ref

    def _failed(self, url: str, reason: str) -> DocumentRef:
        log.info("knowledge source %s: skipped %s: %s", self._name, url, reason)
        self._held = (url, reason)
        return DocumentRef(self._name, url, url, url, None, self._visibility)

    def _document(
        self, response: _Response, lastmod: datetime | None
    ) -> tuple[Document, list[str], bool]:
        text = _decode(response)
        meta = read_page(text, response.url)
        body = html_to_text(text)
        updated = lastmod or response.last_modified
        ref = DocumentRef(
            source=self._name,
            id=response.url,
            title=meta.title or clean_title(_first_heading(body)) or response.url,
            url=response.url,
            updated=updated,
            visibility=self._visibility,
            version=updated.isoformat() if updated else "",
        )
        return Document(ref, body), [] if meta.nofollow else meta.links, meta.noindex

    async def _sitemap_pages(self, first: str) -> list[SitemapEntry]:
        pages: list[SitemapEntry] = []
        seen_pages: set[str] = set()
        files, seen_files = deque([first]), {first}
        read = 0
        while files and read < MAX_SITEMAPS:  # more are left out, with their pages
            url = files.popleft()
            read += 1
            try:
                response = await self._get(url, page=False, max_bytes=MAX_SITEMAP_BYTES)
            except _Skip as error:
                # Its pages would be missing from the listing, and so removed: fail instead.
                raise KnowledgeSourceError(
                    self._name, f"the sitemap {url} could not be read ({error.reason})"
                ) from None
            found = read_sitemap(_decode(response), response.url)
            for child in found.sitemaps:
                if child.url not in seen_files and self._scope.same_host(child.url):
                    seen_files.add(child.url)
                    files.append(child.url)
            for entry in found.pages:
                if entry.url not in seen_pages and self._scope.contains(entry.url):
                    seen_pages.add(entry.url)
                    pages.append(entry)
        return pages

    # Guarded requests.

    async def _read_robots(self) -> None:
        url = f"{self._scope.scheme}://{self._host_port()}/robots.txt"
        robots = urllib.robotparser.RobotFileParser(url)
        try:
            response = await self._get(url, page=False, max_bytes=ROBOTS_BYTES, truncate=True)
        except _Gone:
            robots.parse([])  # no rules
        except _Skip as skip:
            if not skip.reason.startswith("HTTP 4"):
                raise KnowledgeSourceError(
                    self._name, f"robots.txt could not be read ({skip.reason}); nothing was read"
                ) from None
            robots.parse([])  # RFC 9309 2.3.1.3: "unavailable", no rules
        else:
            robots.parse(_decode(response).splitlines())
            delay = robots.crawl_delay(USER_AGENT)
            self._delay = min(float(delay), self._max_delay) if delay else 0.0
        self._robots = robots

    def _allowed_by_robots(self, url: str) -> bool:
        return self._robots is not None and self._robots.can_fetch(USER_AGENT, url)

    def _host_port(self) -> str:
        scope = self._scope
        default = {"http": 80, "https": 443}[scope.scheme]
        host = f"[{scope.host}]" if ":" in scope.host else scope.host
        return host if scope.port == default else f"{host}:{scope.port}"

    async def _page(self, url: str) -> _Response:
        response = await self._get(url, page=True, max_bytes=self._max_bytes)
        kind = response.content_type
        if kind not in _HTML_TYPES:
            raise _Skip(f"not HTML (content type {kind or 'missing'})")
        if b"\x00" in response.body[:8192]:
            raise _Skip("not text (binary content)")
        return response

    async def _get(
        self, url: str, *, page: bool, max_bytes: int, truncate: bool = False
    ) -> _Response:
        """GETs `url`, each redirect hop checked before it is requested."""
        for _ in range(MAX_REDIRECTS + 1):
            await self._check(url, page=page)
            await self._pause()
            try:
                async with self._client.stream(
                    "GET", url, headers=_HEADERS, timeout=self._timeout, follow_redirects=False
                ) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        target = canonical_url(location, url)
                        if target is None:
                            raise _Skip("redirected to an address that is not a plain http(s) URL")
                        url = target
                        continue
                    if response.status_code in (404, 410):
                        raise _Gone()
                    if response.status_code != 200:
                        raise _Skip(f"HTTP {response.status_code}")
                    return _Response(
                        url=url,
                        content_type=response.headers.get("content-type", "")
                        .split(";")[0]
                        .strip()
                        .lower(),
                        charset=response.charset_encoding,
                        last_modified=_http_date(response.headers.get("last-modified")),
                        body=await self._read(response, max_bytes, truncate=truncate),
                    )
            except httpx.TimeoutException:
                raise _Skip("timed out") from None
            except httpx.HTTPError as error:
                raise _Skip(f"request failed ({type(error).__name__})") from None
        raise _Skip(f"more than {MAX_REDIRECTS} redirects")

    async def _check(self, url: str, *, page: bool) -> None:
        if not self._scope.same_host(url):
            raise _Skip(f"redirected off the host (to {httpx.URL(url).host})")
        if page and not self._scope.contains(url):
            raise _Skip(f"redirected outside {self._scope.prefix}")
        if page and not self._allowed_by_robots(url):
            raise _Skip("redirected to a page robots.txt disallows")
        if not await self._policy.allows(url):
            raise _Skip("refused by the URL policy (the host is not on a public address)")

    async def _pause(self) -> None:
        if self._delay:
            wait = self._last_request + self._delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_request = time.monotonic()

    async def _read(self, response: httpx.Response, max_bytes: int, *, truncate: bool) -> bytes:
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > max_bytes:
            raise _Skip(f"{int(declared):,} bytes, over the {max_bytes:,}-byte cap")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > max_bytes:
                if truncate:
                    return bytes(body[:max_bytes])
                raise _Skip(f"over the {max_bytes:,}-byte cap")
        return bytes(body)


def _decode(response: _Response) -> str:
    try:
        return response.body.decode(response.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return response.body.decode("utf-8", errors="replace")


def _http_date(value: str | None) -> datetime | None:
    if not value or len(value) > 64:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _first_heading(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#")
    return None
