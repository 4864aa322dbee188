"""The web source against a real local site (tests/support/fake_website.py) and a second
host beside it: scope, robots.txt, sitemap, redirects checked hop by hop, bad pages skipped.

The site is on 127.0.0.1, which the URL policy refuses as a private address; the
tests let it through the way an admin lets an intranet site through, with the
source's `allowed_networks = ["127.0.0.1/32"]`. The other host (127.0.0.2) is
outside that network, so a redirect there is refused twice over, and the test
checks it was never asked for anything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.knowledge.config import SourceConfig, load_knowledge_config
from bot.knowledge.index import KnowledgeIndex, Mode
from bot.knowledge.sources.base import Visibility
from bot.knowledge.sources.registry import SourceContext, build_source
from bot.knowledge.sources.web import WebSource
from bot.knowledge.sync import SyncSummary, sync_source
from bot.safety.redaction import Redactor
from tests.support.fake_website import MARKER, FakeWebsite
from tests.support.servers import ServerThread

LOOPBACK = [ipaddress.ip_network("127.0.0.1/32")]


@pytest.fixture
def site() -> Iterator[FakeWebsite]:
    website, elsewhere = FakeWebsite(), FakeWebsite()
    with (
        ServerThread(website.app) as server,
        ServerThread(elsewhere.app, host="127.0.0.2") as other,
    ):
        website.url, website.other_host = server.url, other.url
        website.serve_defaults()
        elsewhere.url = other.url
        elsewhere.serve_defaults()
        yield website
        assert elsewhere.requested == [], "the other host was asked for something"


_OPENED: list[WebSource] = []


@pytest.fixture(autouse=True)
async def _close_sources() -> AsyncIterator[None]:
    yield
    while _OPENED:
        await _OPENED.pop().aclose()


def web(site: FakeWebsite, **options: object) -> WebSource:
    settings: dict[str, object] = {"url": f"{site.url}/docs/", "allowed_networks": LOOPBACK}
    settings.update(options)
    source = WebSource(name="site", visibility=Visibility.everyone(), **settings)  # type: ignore[arg-type]
    _OPENED.append(source)
    return source


async def sync(source: WebSource, tmp_path: Path) -> tuple[SyncSummary, KnowledgeIndex]:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    return await sync_source(source, index, redactor=Redactor()), index


async def test_a_crawl_reads_the_site_under_the_start_path_and_skips_bad_pages_with_reasons(
    site: FakeWebsite, tmp_path: Path
) -> None:
    summary, index = await sync(web(site), tmp_path)
    docs = f"{site.url}/docs"
    assert summary.error is None
    assert sorted(index.hashes("site")) == [
        f"{docs}/",
        f"{docs}/deploy.html",
        f"{docs}/scripts.html",
        f"{docs}/vault.html",
    ]
    assert summary.added == 4
    assert dict(summary.skipped) == {
        f"{docs}/manual.pdf": "not HTML (content type application/pdf)",
        f"{docs}/huge.html": "over the 5,242,880-byte cap",
        f"{docs}/off-host": "redirected off the host (to 127.0.0.2)",
        f"{docs}/to-private": "redirected off the host (to 10.1.2.3)",
        f"{docs}/loop": "more than 5 redirects",
        f"{docs}/broken.html": "HTTP 500",
    }
    # robots.txt's Disallow, the path outside /docs/ and the fragment/query copies are
    # never requested; the redirect inside the site was followed once.
    assert "/docs/private/keys.html" not in site.requested
    assert "/blog/news.html" not in site.requested
    assert site.requested.count("/docs/deploy.html") == 2  # linked, and reached by /docs/moved
    assert site.requested[0] == "/robots.txt"
    assert site.user_agents == {"supportbot/1 (knowledge sync)"}


async def test_pages_keep_headings_lose_scripts_and_carry_title_link_and_updated_time(
    site: FakeWebsite, tmp_path: Path
) -> None:
    _, index = await sync(web(site), tmp_path)
    best = index.search("ACME-4012", channel="C1", mode=Mode.LEXICAL)[0]
    assert best.title == "Vault token expired"
    assert best.url == f"{site.url}/docs/vault.html"
    assert best.section == "Vault > ACME-4012: vault token expired"
    assert index.search(MARKER, channel="C1", mode=Mode.LEXICAL) == []
    assert index.search("acme-cdn purge", channel="C1", mode=Mode.LEXICAL)[0].title == (
        "Scripted page"
    )

    source = web(site)
    refs = {ref.id: ref async for ref in source.documents()}
    assert refs[f"{site.url}/docs/vault.html"].updated == datetime(
        2022, 11, 15, 8, 12, 31, tzinfo=UTC
    )
    assert refs[f"{site.url}/docs/deploy.html"].updated is None


async def test_a_resync_is_incremental_and_a_page_that_is_gone_is_removed(
    site: FakeWebsite, tmp_path: Path
) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(web(site), index, redactor=Redactor())
    again = await sync_source(web(site), index, redactor=Redactor())
    assert (again.added, again.changed, again.unchanged, again.removed) == (0, 0, 4, 0)

    del site.pages["/docs/scripts.html"]  # 404 now, though vault.html still links to it
    site.pages["/docs/deploy.html"] += "<p>Then re-run the job.</p>"
    third = await sync_source(web(site), index, redactor=Redactor())
    assert (third.added, third.changed, third.unchanged, third.removed) == (0, 1, 2, 1)
    assert f"{site.url}/docs/scripts.html" not in index.hashes("site")


async def test_a_sitemap_lists_the_pages_under_its_folder_with_their_lastmod(
    site: FakeWebsite, tmp_path: Path
) -> None:
    source = web(site, url=None, sitemap=f"{site.url}/docs/sitemap.xml")
    refs = [ref async for ref in source.documents()]
    assert [ref.id for ref in refs] == [
        f"{site.url}/docs/vault.html",
        f"{site.url}/docs/deploy.html",
    ]
    assert refs[0].updated == datetime(2024, 3, 1, 10, tzinfo=UTC)  # lastmod before Last-Modified
    assert "/docs/private/keys.html" not in site.requested
    assert "/blog/news.html" not in site.requested
    assert "/docs/" not in site.requested  # a sitemap's pages are not crawled for links


async def test_the_page_limit_stops_the_crawl_and_says_so(
    site: FakeWebsite, tmp_path: Path
) -> None:
    summary, _ = await sync(web(site, max_pages=2), tmp_path)
    assert summary.added == 2
    assert site.requested == ["/robots.txt", "/docs/", "/docs/vault.html"]
    # The next page in line, and how many the crawl had found but not read.
    assert summary.skipped == [
        (
            f"{site.url}/docs/deploy.html",
            "not read: the page limit (max_pages = 2) was reached with 10 pages left",
        )
    ]


async def test_a_site_on_a_private_address_is_refused_without_an_allowed_network(
    site: FakeWebsite, tmp_path: Path
) -> None:
    summary, _ = await sync(web(site, allowed_networks=None), tmp_path)
    assert summary.error == (
        "robots.txt could not be read (refused by the URL policy (the host is not on a public "
        "address)); nothing was read"
    )
    assert site.requested == []


@pytest.mark.parametrize("status", [404, 403])
async def test_robots_txt_missing_or_refused_means_no_rules(
    site: FakeWebsite, tmp_path: Path, status: int
) -> None:
    site.robots_status = status  # RFC 9309 2.3.1.3: any 4xx, "unavailable"
    summary, index = await sync(web(site), tmp_path)
    assert summary.error is None
    assert len(index.hashes("site")) == 5
    assert "/docs/private/keys.html" in site.requested  # no rules: nothing disallowed


async def test_robots_txt_failing_fails_the_sync_and_keeps_the_previous_index(
    site: FakeWebsite, tmp_path: Path
) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(web(site), index, redactor=Redactor())
    site.robots_status = 503
    requested = len(site.requested)
    failed = await sync_source(web(site), index, redactor=Redactor())
    assert failed.error == "robots.txt could not be read (HTTP 503); nothing was read"
    assert site.requested[requested:] == ["/robots.txt"]
    assert len(index.hashes("site")) == 4


def _config(**fields: object) -> SourceConfig:
    return SourceConfig.model_validate({"name": "site", "type": "web", **fields})


def test_the_registry_builds_web_sources_and_refuses_bad_tables() -> None:
    built = build_source(
        _config(url="https://docs.example.com/ops/", allowed_networks=["10.20.0.0/16"]),
        SourceContext(),
    )
    assert isinstance(built, WebSource)
    with pytest.raises(ConfigError, match="needs `url` or `sitemap`"):
        build_source(_config(), SourceContext())
    with pytest.raises(ConfigError, match="plain http"):
        build_source(_config(url="ftp://docs.example.com/"), SourceContext())
    with pytest.raises(ConfigError, match="allowed_networks"):
        build_source(
            _config(url="https://d.example.com/", allowed_networks=["nope"]), SourceContext()
        )
    with pytest.raises(ConfigError, match="on the host of `url`"):
        build_source(
            _config(url="https://d.example.com/", sitemap="https://e.example.com/sitemap.xml"),
            SourceContext(),
        )


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("server error", "the start page could not be read (HTTP 500)"),
        ("gone", "the start page could not be read (gone (HTTP 404 or 410))"),
        ("disallowed", "robots.txt disallows the start page"),
    ],
)
async def test_a_start_page_that_fails_keeps_the_previous_index_whole(
    site: FakeWebsite, tmp_path: Path, failure: str, reason: str
) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(web(site), index, redactor=Redactor())
    start = {
        "server error": f"{site.url}/docs/broken.html",
        "gone": f"{site.url}/docs/missing.html",
        "disallowed": f"{site.url}/docs/private/",
    }[failure]
    failed = await sync_source(web(site, url=start), index, redactor=Redactor())
    assert failed.error == reason
    assert len(index.hashes("site")) == 4  # nothing removed for pages it could not find


async def test_a_sitemap_listing_nothing_in_scope_fails_instead_of_emptying_the_index(
    site: FakeWebsite, tmp_path: Path
) -> None:
    site.pages["/docs/sitemap.xml"] = "<urlset><url><loc>http://elsewhere.example/</loc></url>"
    summary, _ = await sync(web(site, url=None, sitemap=f"{site.url}/docs/sitemap.xml"), tmp_path)
    assert summary.error == "the sitemap lists no pages under /docs/"


async def test_an_intranet_site_is_read_when_its_table_allows_its_network(
    site: FakeWebsite, tmp_path: Path
) -> None:
    config = tmp_path / "knowledge.toml"
    config.write_text(
        "[[sources]]\n"
        'name = "intranet"\n'
        'type = "web"\n'
        f'url = "{site.url}/docs/"\n'
        'allowed_networks = ["127.0.0.1/32"]\n'
        "max_pages = 3\n"
        'channels = ["C0OPS"]\n',
        "utf-8",
    )
    [declared] = load_knowledge_config(config).sources
    source = build_source(declared, SourceContext(base_dir=tmp_path))
    assert isinstance(source, WebSource)
    _OPENED.append(source)
    summary, index = await sync(source, tmp_path)
    assert (summary.error, summary.added) == (None, 3)
    assert index.search("ACME-4012", channel="C0OPS", mode=Mode.LEXICAL)
    assert index.search("ACME-4012", channel="C0OTHER", mode=Mode.LEXICAL) == []


async def test_a_sitemap_index_is_followed_and_a_child_that_fails_fails_the_source(
    site: FakeWebsite, tmp_path: Path
) -> None:
    child = f"<sitemap><loc>{site.url}/docs/sitemap.xml</loc></sitemap>"
    site.pages["/docs/index"] = f"<sitemapindex>{child}</sitemapindex>"  # no extension
    source = web(site, url=None, sitemap=f"{site.url}/docs/index")
    assert [ref.id async for ref in source.documents()] == [
        f"{site.url}/docs/vault.html",
        f"{site.url}/docs/deploy.html",
    ]

    broken = f"<sitemap><loc>{site.url}/docs/broken.html</loc></sitemap>"
    site.pages["/docs/index"] = f"<sitemapindex>{child}{broken}</sitemapindex>"
    summary, _ = await sync(web(site, url=None, sitemap=f"{site.url}/docs/index"), tmp_path)
    assert summary.error == f"the sitemap {site.url}/docs/broken.html could not be read (HTTP 500)"
