"""The Zendesk, Confluence and Intercom sources against fakes that page, refuse and throttle
as the vendors document (rules and pages cited in tests/support/fake_knowledge_vendors.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import KnowledgeSourceError
from bot.knowledge.sources.base import DocumentRef, Source, Visibility
from bot.knowledge.sources.confluence import ConfluenceSource
from bot.knowledge.sources.intercom import IntercomArticlesSource
from bot.knowledge.sources.vendor_http import VendorClient, clean_title
from bot.knowledge.sources.zendesk import ZendeskHelpCenterSource
from tests.support.fake_knowledge_vendors import (
    CONFLUENCE_EMAIL,
    CONFLUENCE_TOKEN,
    INTERCOM_TOKEN,
    ZENDESK_EMAIL,
    ZENDESK_TOKEN,
    FakeKnowledgeVendors,
)
from tests.support.servers import ServerThread

PRIVATE = Visibility.only({"C0SRE"})

RUNBOOK_HTML = (
    "<h1>Vault token expired</h1><p>Seen as <code>ACME-4012: vault token expired</code>.</p>"
    "<script>document.cookie='stolen'</script><style>p{color:red}</style>"
    "<h2>Fix</h2><ol><li>Run <code>acmectl vault token renew --ttl 12h</code></li>"
    "<li>Re-run the job</li></ol>"
)


@pytest.fixture
def fake() -> Iterator[FakeKnowledgeVendors]:
    vendors = FakeKnowledgeVendors()
    with ServerThread(vendors.app) as server:
        vendors.url = server.url
        yield vendors


async def _all(source: Source) -> list[DocumentRef]:
    refs: AsyncIterator[DocumentRef] = source.documents()
    return [ref async for ref in refs]


def _zendesk(fake: FakeKnowledgeVendors, **kwargs: object) -> ZendeskHelpCenterSource:
    options: dict[str, object] = {
        "name": "help",
        "base_url": fake.url,
        "email": ZENDESK_EMAIL,
        "token": ZENDESK_TOKEN,
        "visibility": Visibility.everyone(),
        **kwargs,
    }
    return ZendeskHelpCenterSource(**options)  # type: ignore[arg-type]


def _confluence(fake: FakeKnowledgeVendors, **kwargs: object) -> ConfluenceSource:
    options: dict[str, object] = {
        "name": "wiki",
        "base_url": fake.url,
        "email": CONFLUENCE_EMAIL,
        "token": CONFLUENCE_TOKEN,
        "spaces": ["OPS"],
        "visibility": PRIVATE,
        **kwargs,
    }
    return ConfluenceSource(**options)  # type: ignore[arg-type]


def _intercom(fake: FakeKnowledgeVendors, **kwargs: object) -> IntercomArticlesSource:
    options: dict[str, object] = {
        "name": "faq",
        "base_url": fake.url,
        "token": INTERCOM_TOKEN,
        "visibility": Visibility.everyone(),
        **kwargs,
    }
    return IntercomArticlesSource(**options)  # type: ignore[arg-type]


# --- Zendesk -------------------------------------------------------------------------------


async def test_zendesk_lists_every_article_across_cursor_pages(
    fake: FakeKnowledgeVendors,
) -> None:
    for n in range(1, 8):
        fake.add_zendesk_article(1000 + n, f"Article {n}", "<p>x</p>")
    source = _zendesk(fake, page_size=3, visibility=PRIVATE)
    refs = await _all(source)
    assert [r.id for r in refs] == [str(1000 + n) for n in range(1, 8)]
    first = refs[0]
    assert first.source == "help" and first.title == "Article 1"
    assert first.url == f"{fake.url}/hc/en-us/articles/1001-Article 1"
    assert first.updated == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert first.version == "2026-03-01T10:00:00Z"
    assert first.visibility == PRIVATE
    queries = [parse_qs(urlsplit(p).query) for p, _ in fake.vendor_requests("zendesk")]
    assert len(queries) == 3  # 3 + 3 + 1, and no request after has_more is false
    assert all(q["page[size]"] == ["3"] for q in queries)
    assert "page[after]" not in queries[0] and all("page[after]" in q for q in queries[1:])
    assert source.skipped == []


async def test_zendesk_reads_one_locale_and_names_a_wrong_one(fake: FakeKnowledgeVendors) -> None:
    fake.add_zendesk_article(1, "English", "<p>en</p>")
    fake.add_zendesk_article(2, "中文文章", "<p>中文</p>", locale="zh-cn")
    assert [r.title for r in await _all(_zendesk(fake, locale="zh-cn"))] == ["中文文章"]
    with pytest.raises(KnowledgeSourceError) as wrong:
        await _all(_zendesk(fake, locale="pt-br"))
    assert "404" in wrong.value.reason and "locale" in wrong.value.reason
    with pytest.raises(KnowledgeSourceError):
        _zendesk(fake, locale="../../admin")


async def test_zendesk_fetch_keeps_headings_and_drops_scripts(fake: FakeKnowledgeVendors) -> None:
    fake.add_zendesk_article(4012, "Vault token expired", RUNBOOK_HTML)
    source = _zendesk(fake)
    (ref,) = await _all(source)
    document = await source.fetch(ref)
    assert document.ref == ref
    lines = document.text.splitlines()
    assert lines[0] == "# Vault token expired"
    assert "## Fix" in lines
    assert "- Run acmectl vault token renew --ttl 12h" in lines
    assert "stolen" not in document.text and "color" not in document.text


async def test_zendesk_wrong_token_is_a_clear_source_error(fake: FakeKnowledgeVendors) -> None:
    fake.add_zendesk_article(1, "A", "<p>a</p>")
    with pytest.raises(KnowledgeSourceError) as refused:
        await _all(_zendesk(fake, token="not-the-token"))
    assert refused.value.source == "help"
    assert "401" in refused.value.reason and "credentials" in refused.value.reason


async def test_zendesk_waits_as_long_as_retry_after_says(fake: FakeKnowledgeVendors) -> None:
    fake.add_zendesk_article(1, "A", "<p>a</p>")
    fake.throttle("zendesk", times=2, wait=1)
    refs = await _all(_zendesk(fake))
    assert [r.id for r in refs] == ["1"]
    assert len(fake.vendor_requests("zendesk")) == 3  # two 429s, then the page
    assert fake.early_requests == 0


async def test_zendesk_skips_malformed_articles_with_a_reason(fake: FakeKnowledgeVendors) -> None:
    fake.add_zendesk_article(1, "Good", "<p>a</p>")
    fake.zendesk_articles.append({"id": "not-a-number", "title": "Bad id"})
    fake.zendesk_articles.append("just a string")  # type: ignore[arg-type]
    fake.add_zendesk_article(3, "   ", "<p>untitled</p>")
    fake.add_zendesk_article(4, "Draft", "<p>d</p>", draft=True)
    fake.add_zendesk_article(5, "Also good", "<p>b</p>")
    source = _zendesk(fake, page_size=2)
    assert [r.id for r in await _all(source)] == ["1", "5"]
    reasons = {s.id: s.reason for s in source.skipped}
    assert reasons == {
        "not-a-number": "an article without a numeric id",
        "?": "an article that is not a JSON object",
        "3": "an article without a title",
    }


async def test_zendesk_fetch_of_a_deleted_article_says_not_found(
    fake: FakeKnowledgeVendors,
) -> None:
    source = _zendesk(fake)
    gone = DocumentRef("help", "999", "Gone", None, None, Visibility.everyone())
    with pytest.raises(KnowledgeSourceError) as missing:
        await source.fetch(gone)
    assert "404" in missing.value.reason


# --- Confluence ----------------------------------------------------------------------------


def _spaces(fake: FakeKnowledgeVendors) -> None:
    fake.add_confluence_space(65537, "OPS")
    fake.add_confluence_space(65538, "ENG")
    for n in range(1, 6):
        fake.add_confluence_page(65537, 200 + n, f"Ops page {n}", f"<p>ops {n}</p>")
    fake.add_confluence_page(65538, 301, "Eng page", "<p>eng</p>")
    fake.add_confluence_page(65537, 299, "Old page", "<p>old</p>", status="archived")


async def test_confluence_lists_current_pages_of_each_space_across_pages(
    fake: FakeKnowledgeVendors,
) -> None:
    _spaces(fake)
    source = _confluence(fake, spaces=["OPS", "ENG"], page_size=2)
    refs = await _all(source)
    assert [r.id for r in refs] == ["201", "202", "203", "204", "205", "301"]
    first = refs[0]
    assert first.url == f"{fake.url}/wiki/spaces/OPS/pages/201/Ops page 1"
    assert first.version == "3@2026-03-01T10:00:00.000Z"
    assert first.updated == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert first.visibility == PRIVATE
    paths = [p for p, _ in fake.vendor_requests("confluence")]
    ops = [p for p in paths if p.startswith("/wiki/api/v2/spaces/65537/pages")]
    assert len(ops) == 3 and all("cursor=" in p for p in ops[1:])


async def test_confluence_names_a_space_it_cannot_find(fake: FakeKnowledgeVendors) -> None:
    _spaces(fake)
    with pytest.raises(KnowledgeSourceError) as missing:
        await _all(_confluence(fake, spaces=["OPS", "SECRET"]))
    assert "SECRET" in missing.value.reason
    with pytest.raises(KnowledgeSourceError):
        _confluence(fake, spaces=["OPS/../x"])


async def test_confluence_fetch_reads_the_storage_format(fake: FakeKnowledgeVendors) -> None:
    fake.add_confluence_space(65537, "OPS")
    storage = (
        "<h2>Failover</h2><p>Only the DBA on-call runs it.</p>"
        '<ac:structured-macro ac:name="code"><ac:plain-text-body>'
        "<![CDATA[acmectl db failover run --target pg-replica-2]]>"
        "</ac:plain-text-body></ac:structured-macro>"
    )
    fake.add_confluence_page(65537, 777, "Database failover", storage)
    source = _confluence(fake)
    (ref,) = await _all(source)
    text = (await source.fetch(ref)).text
    assert text.splitlines()[:3] == ["# Database failover", "", "## Failover"]
    assert "acmectl db failover run --target pg-replica-2" in text.splitlines()


async def test_confluence_wrong_credentials_are_a_clear_source_error(
    fake: FakeKnowledgeVendors,
) -> None:
    _spaces(fake)
    with pytest.raises(KnowledgeSourceError) as refused:
        await _all(_confluence(fake, email="someone@else.test"))
    assert "401" in refused.value.reason and "credentials" in refused.value.reason


async def test_confluence_honours_retry_after(fake: FakeKnowledgeVendors) -> None:
    _spaces(fake)
    fake.throttle("confluence", times=1, wait=1)
    assert len(await _all(_confluence(fake))) == 5
    assert fake.early_requests == 0


async def test_confluence_skips_malformed_pages(fake: FakeKnowledgeVendors) -> None:
    _spaces(fake)
    fake.confluence_pages["65537"].insert(1, {"id": None, "status": "current", "title": "x"})
    fake.add_confluence_page(65537, 206, "", "<p>no title</p>")
    source = _confluence(fake, page_size=250)
    assert [r.id for r in await _all(source)] == ["201", "202", "203", "204", "205"]
    assert [(s.id, s.reason) for s in source.skipped] == [
        ("None", "a page without a numeric id"),
        ("206", "a page without a title"),
    ]


async def test_confluence_page_size_is_kept_within_the_documented_limit(
    fake: FakeKnowledgeVendors,
) -> None:
    _spaces(fake)
    assert len(await _all(_confluence(fake, page_size=10_000))) == 5
    limits = {
        parse_qs(urlsplit(p).query)["limit"][0] for p, _ in fake.vendor_requests("confluence")
    }
    assert limits == {"250"}


# --- Intercom ------------------------------------------------------------------------------


async def test_intercom_lists_published_articles_across_pages(fake: FakeKnowledgeVendors) -> None:
    for n in range(1, 6):
        fake.add_intercom_article(n, f"FAQ {n}", f"<p>{n}</p>")
    fake.add_intercom_article(9, "Draft", "<p>d</p>", state="draft")
    source = _intercom(fake, page_size=2)
    refs = await _all(source)
    # Newest first, as the API orders them; the draft left out.
    assert [r.id for r in refs] == ["5", "4", "3", "2", "1"]
    assert refs[0].url == "https://help.acme.test/en/articles/5-x"
    assert refs[0].version == str(1772359205)
    assert refs[0].updated == datetime.fromtimestamp(1772359205, tz=UTC)
    requests = fake.vendor_requests("intercom")
    assert len(requests) == 3
    assert all(h["intercom-version"] == "2.11" for _, h in requests)
    assert all(h["authorization"] == f"Bearer {INTERCOM_TOKEN}" for _, h in requests)


async def test_intercom_fetch_and_a_missing_article(fake: FakeKnowledgeVendors) -> None:
    fake.add_intercom_article(42, "Refunds", "<h2>When</h2><p>Within 14 days.</p>")
    source = _intercom(fake)
    (ref,) = await _all(source)
    assert (await source.fetch(ref)).text == "# Refunds\n\n## When\n\nWithin 14 days.\n"
    gone = DocumentRef("faq", "43", "Gone", None, None, Visibility.everyone())
    with pytest.raises(KnowledgeSourceError) as missing:
        await source.fetch(gone)
    assert "404" in missing.value.reason


async def test_intercom_wrong_token_is_a_clear_source_error(fake: FakeKnowledgeVendors) -> None:
    with pytest.raises(KnowledgeSourceError) as refused:
        await _all(_intercom(fake, token="expired"))
    assert "401" in refused.value.reason


async def test_intercom_waits_for_the_rate_limit_reset(fake: FakeKnowledgeVendors) -> None:
    fake.add_intercom_article(1, "A", "<p>a</p>")
    fake.throttle("intercom", times=1, wait=1)
    assert [r.id for r in await _all(_intercom(fake))] == ["1"]
    assert fake.early_requests == 0


async def test_intercom_skips_malformed_articles(fake: FakeKnowledgeVendors) -> None:
    fake.add_intercom_article(1, "A", "<p>a</p>")
    fake.add_intercom_article(2, "B", "<p>b</p>", id={"nested": True})
    fake.add_intercom_article(4, "D", "<p>d</p>", id="\u202e" + "9" * 5000)
    fake.add_intercom_article(3, "", "<p>c</p>")
    source = _intercom(fake)
    assert [r.id for r in await _all(source)] == ["1"]
    assert sorted(s.reason for s in source.skipped) == [
        "an article without a numeric id",
        "an article without a numeric id",
        "an article without a title",
    ]
    assert all(len(s.id) <= 40 and "\u202e" not in s.id for s in source.skipped)


# --- the shared client -----------------------------------------------------------------------


def test_links_to_another_origin_are_never_followed() -> None:
    client = VendorClient(source="help", base_url="https://acme.zendesk.com", headers={})
    same = "https://acme.zendesk.com/api/v2/x.json?page[after]=a"
    assert client.url("/api/v2/x.json?page[after]=a") == same
    assert client.url(same) == same
    for elsewhere in (
        "https://evil.example/api/v2/x.json",
        "//evil.example/x",
        "http://acme.zendesk.com/x",  # a downgrade to plain HTTP is another origin
        "https://acme.zendesk.com:8443/x",
    ):
        with pytest.raises(KnowledgeSourceError):
            client.url(elsewhere)


def test_a_base_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(KnowledgeSourceError):
        VendorClient(source="help", base_url="file:///etc/passwd", headers={})


async def test_a_next_link_that_loops_stops_the_listing_with_a_reason(
    fake: FakeKnowledgeVendors,
) -> None:
    for n in range(1, 6):
        fake.add_intercom_article(n, f"FAQ {n}", "<p>x</p>")
    fake.intercom_next_loops = True
    with pytest.raises(KnowledgeSourceError) as looped:
        await _all(_intercom(fake, page_size=2))
    assert "repeated" in looped.value.reason
    assert len(fake.vendor_requests("intercom")) == 1  # the link back to page 1 is not followed


async def test_a_shared_client_is_used_and_left_open(fake: FakeKnowledgeVendors) -> None:
    fake.add_zendesk_article(1, "A", "<p>a</p>")
    async with httpx.AsyncClient() as shared:
        source = _zendesk(fake, client=shared)
        assert [r.id for r in await _all(source)] == ["1"]
        await source.aclose()
        assert not shared.is_closed


async def test_titles_are_cleaned_for_citations(fake: FakeKnowledgeVendors) -> None:
    fake.add_intercom_article(1, "Reset\u202e gnp.exe\u200b your\x00 password\n\nnow", "<p>a</p>")
    fake.add_intercom_article(2, "\u200b\u2066 \x07", "<p>b</p>")
    source = _intercom(fake)
    (ref,) = await _all(source)
    assert ref.title == "Reset gnp.exe your password now"
    assert [s.id for s in source.skipped] == ["2"]


@given(st.text(max_size=2000))
def test_a_cleaned_title_is_one_short_visible_line(raw: str) -> None:
    title = clean_title(raw)
    if title is not None:
        assert 0 < len(title) <= 300
        assert title == title.strip() and "\n" not in title and "  " not in title
        assert not any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E for c in title)


async def test_a_passing_server_error_is_retried(fake: FakeKnowledgeVendors) -> None:
    _spaces(fake)
    fake.fail("confluence", 503, 502)
    assert len(await _all(_confluence(fake))) == 5


async def test_a_lost_role_is_named_and_not_retried(fake: FakeKnowledgeVendors) -> None:
    fake.add_intercom_article(1, "A", "<p>a</p>")
    fake.fail("intercom", 403)
    with pytest.raises(KnowledgeSourceError) as refused:
        await _all(_intercom(fake))
    assert "403" in refused.value.reason and "scopes" in refused.value.reason
    assert len(fake.vendor_requests("intercom")) == 1


async def test_a_wait_longer_than_a_sync_should_take_ends_it_with_the_reason(
    fake: FakeKnowledgeVendors,
) -> None:
    fake.add_zendesk_article(1, "A", "<p>a</p>")
    fake.throttle("zendesk", times=1, wait=3600)
    with pytest.raises(KnowledgeSourceError) as waited:
        await _all(_zendesk(fake))
    assert "429" in waited.value.reason and "3600" in waited.value.reason
