"""Canonical URLs, links and sitemaps from hostile text: never another host, always linear.

The linearity bound is CPU time with a wide margin, as in
tests/unit/bot/safety/test_linear_redaction.py: linear code reads 40,000 characters
in tens of milliseconds, a quadratic scan of the same would take many seconds.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.knowledge.sources.web_links import Scope, canonical_url, read_page, read_sitemap
from bot.safety.url_policy import requested_url

BASE = "https://docs.example.com/ops/runbooks/"
SCOPE = Scope.of(BASE)
SIZE = 40_000
BOUND_S = 1.0

# Pieces of the URLs parsers disagree on: authority tricks, schemes, escapes, controls.
URL_PIECES = [
    "//", "/", "\\", "@", ":", "evil.example", "docs.example.com", ".", "..", "%2e", "%2f",
    "%40", "%00", "#", "?", "&", "=", "http:", "https:", "HTTPS://", "javascript:", "data:",
    "[::1]", "[", "]", ":443", ":80", ":99999", "\t", "\n", " ", "\x00", "\u3002", "\uff0e",
    "\u202e", "a", "ops", "runbooks", "index.html", "@evil.example", "%252e",
]  # fmt: skip
HOSTILE_URLS = st.lists(st.sampled_from(URL_PIECES), max_size=12).map("".join) | st.text(
    max_size=60
)

HTML_PIECES = [
    "<a href=", '<a href="', "'", '"', ">", "</a>", "<base href=", "<area href=", "<!--", "-->",
    "<![CDATA[", "]]>", "<script>", "</script>", "<title>", "</title>", "<meta name=robots ",
    "content=nofollow>", " rel=nofollow", "<", "&amp;", "&#x2f;", "=",
]  # fmt: skip
HOSTILE_HTML = st.lists(
    st.sampled_from(HTML_PIECES) | st.sampled_from(URL_PIECES), max_size=40
).map("".join)


def _only_on_the_host(url: str) -> None:
    """What the crawler relies on for a link it keeps."""
    assert canonical_url(url) == url  # a fixed point: the id is what is requested
    assert requested_url(url) == url  # the URL policy sees the same URL
    assert "#" not in url and "?" not in url
    # httpx (which sends it) and urllib (which robots.txt and others use) agree on the host.
    assert urlsplit(url).hostname == httpx.URL(url).host
    if SCOPE.contains(url):
        assert urlsplit(url).hostname == "docs.example.com"
        assert urlsplit(url).port is None
        assert urlsplit(url).path.startswith("/ops/runbooks")


@given(HOSTILE_URLS)
@example("//evil.example/ops/runbooks/")
@example("https://docs.example.com@evil.example/ops/runbooks/")
@example("https:\\\\evil.example/ops/runbooks/")
@example("/ops/runbooks/%2e%2e/%2e%2e/admin")
@example("https://docs.example.com\u3002evil.example/")
def test_a_canonical_link_is_a_fixed_point_and_never_another_host_in_scope(href: str) -> None:
    url = canonical_url(href, BASE)
    if url is not None:
        _only_on_the_host(url)


@given(HOSTILE_HTML)
@example('<base href="https://evil.example/ops/runbooks/"><a href="a.html">x</a>')
@example('<a href="//evil.example/ops/runbooks/">x</a>')
def test_links_read_from_any_html_are_canonical(page: str) -> None:
    meta = read_page(page, BASE)
    assert len(meta.links) == len(set(meta.links))
    for link in meta.links:
        _only_on_the_host(link)


def test_a_base_element_moves_resolution_but_not_the_scope() -> None:
    meta = read_page('<base href="https://evil.example/ops/runbooks/"><a href="a.html">', BASE)
    assert meta.links == ["https://evil.example/ops/runbooks/a.html"]
    assert not SCOPE.contains(meta.links[0])


def test_scope_is_the_start_folder_and_the_host() -> None:
    assert Scope.of("https://h.example/docs").prefix == "/docs/"
    assert Scope.of("https://h.example/docs/index.html").prefix == "/docs/"
    assert Scope.of("https://h.example/docs/sitemap", file=True).prefix == "/docs/"
    scope = Scope.of("http://h.example/docs/")
    assert scope.contains("http://h.example/docs")
    assert scope.contains("https://h.example/docs/a")  # http may move to https
    assert not scope.contains("http://h.example/docsx/a")
    assert not scope.contains("http://h.example:8080/docs/a")
    assert not scope.contains("http://sub.h.example/docs/a")


@given(HOSTILE_HTML)
def test_sitemap_entries_from_any_text_are_canonical(body: str) -> None:
    for text in (f"<urlset><url><loc>{body}</loc></url>{body}</urlset>", body):
        found = read_sitemap(text, BASE + "sitemap.xml")
        for entry in found.pages + found.sitemaps:
            _only_on_the_host(entry.url)


def _repeated(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def _cpu_seconds(read: object, text: str) -> float:
    started = time.process_time()
    if read == "page":
        read_page(text, BASE)
    else:
        read_sitemap(text, BASE + "sitemap.xml")
    return time.process_time() - started


UNITS = [
    "<a href=", '<a href="', "<a href=x>", "<base href=", "<!--", "<![CDATA[", "<title>",
    "<url>", "<url><loc>", "<loc>", "<url ", "</url>", "<sitemap>", "a", "<", "&",
    "<a href='" + "/" * 50, "<meta name=robots content=",
]  # fmt: skip


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("read", ["page", "sitemap"])
def test_a_40000_character_run_of_any_unit_reads_well_under_a_second(read: str, unit: str) -> None:
    assert _cpu_seconds(read, _repeated(unit)) < BOUND_S


def test_a_page_of_40000_characters_of_distinct_links_reads_well_under_a_second() -> None:
    page = "".join(f"<a href=p{i}.html>" for i in range(SIZE // 12))[:SIZE]
    assert _cpu_seconds("page", page) < BOUND_S
    assert len(read_page(page, BASE).links) > 2_000


@settings(max_examples=20, deadline=None)
@given(HOSTILE_HTML.filter(bool))
def test_any_40000_characters_of_markup_read_well_under_a_second(seed: str) -> None:
    text = _repeated(seed)
    assert _cpu_seconds("page", text) < BOUND_S
    assert _cpu_seconds("sitemap", text) < BOUND_S
