"""Zendesk Help Center articles as a knowledge source.

Calls, as Zendesk documents them:

- List: `GET /api/v2/help_center/{locale}/articles.json?page[size]=N` (or without
  the locale: every locale's articles), cursor pagination: follow `links.next`
  while `meta.has_more`; `page[size]` at most 100.
  https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/#list-articles
  https://developer.zendesk.com/api-reference/introduction/pagination/
- Fetch: `GET /api/v2/help_center/{locale}/articles/{id}.json` (or without the
  locale) → `{"article": {...}}`.
  https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/#show-article
- Auth: Basic `{email}/token:{api_token}`.
  https://developer.zendesk.com/api-reference/introduction/security-and-auth/
- Answers are filtered by what the signed-in user may view; drafts are listed for
  agents and are left out here (`draft: true` is not published help).
  https://developer.zendesk.com/api-reference/help_center/help-center-api/introduction/
- An article with a `user_segment_id` (or, on Enterprise, `user_segment_ids`) is
  shown only to that segment (agents only, signed-in users, some organisations).
  The bot reads as an agent and sees them all, so a source that answers everyone
  skips them with the reason; a source limited to named channels keeps them.
  https://developer.zendesk.com/api-reference/help_center/help-center-api/user_segments/

An article's `id` is its stable id, `updated_at` its version, `html_url` its link,
`body` (HTML) its text with headings kept.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bot.errors import KnowledgeSourceError
from bot.knowledge.sources.base import Document, DocumentRef, Visibility
from bot.knowledge.sources.html_text import html_to_text
from bot.knowledge.sources.vendor_http import (
    PageGuard,
    VendorClient,
    clean_title,
    clean_url,
    parse_time,
    vendor_id,
)
from bot.knowledge.sources.vendor_source import VendorSource

MAX_PAGE_SIZE = 100  # "Most endpoints limit this to a maximum of 100" (pagination page above)


class ZendeskHelpCenterSource(VendorSource):
    """Published Help Center articles of one Zendesk account.

    Args:
        name: the source's configured name.
        base_url: the account's address, `https://{subdomain}.zendesk.com` (ZENDESK_URL).
        email: the agent the bot reads as (ZENDESK_EMAIL).
        token: that agent's API token (ZENDESK_API_TOKEN).
        visibility: who may be answered from these articles.
        locale: one locale (`en-us`), or None for every locale's articles.
        transport, client: how requests are sent (see `VendorClient`); default: a client
            of its own, closed by `aclose()`.

    Example:
        >>> source = ZendeskHelpCenterSource(
        ...     name="help", base_url="https://acme.zendesk.com", email="bot@acme.com",
        ...     token="…", visibility=Visibility.everyone())
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        email: str,
        token: str,
        visibility: Visibility,
        locale: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if locale is not None and not _valid_locale(locale):
            raise KnowledgeSourceError(name, f"the locale {locale!r} is not like `en-us`")
        credentials = base64.b64encode(f"{email}/token:{token}".encode()).decode()
        self._prefix = f"/api/v2/help_center/{locale}" if locale else "/api/v2/help_center"
        self._locale = locale
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        super().__init__(
            name=name,
            visibility=visibility,
            client=VendorClient(
                source=name,
                base_url=base_url,
                headers={"Authorization": f"Basic {credentials}"},
                transport=transport,
                client=client,
            ),
        )

    async def documents(self) -> AsyncIterator[DocumentRef]:
        """Every published article, each once, across all pages."""
        self.skipped = []
        seen: set[str] = set()
        url: str | None = f"{self._prefix}/articles.json"
        params: dict[str, str | int] | None = {"page[size]": self._page_size}
        guard = PageGuard(self._name)
        while url is not None:
            guard.check(self._client.url(url), params)
            page = await self._client.get_json(url, params=params)
            articles = page.get("articles")
            if not isinstance(articles, list):
                raise KnowledgeSourceError(self._name, "the article list has no `articles` array")
            for item in articles:
                ref = self._ref(item)
                if ref is not None and ref.id not in seen:
                    seen.add(ref.id)
                    yield ref
            url, params = _next(page), None

    async def fetch(self, ref: DocumentRef) -> Document:
        """The article's title and body as text, headings kept."""
        if vendor_id(ref.id) is None:
            raise KnowledgeSourceError(self._name, f"{ref.id!r} is not a Zendesk article id")
        answer = await self._client.get_json(f"{self._prefix}/articles/{ref.id}.json")
        article = answer.get("article")
        if not isinstance(article, dict) or not isinstance(article.get("body"), str | None):
            raise KnowledgeSourceError(self._name, f"article {ref.id} came back without a body")
        body = html_to_text(article.get("body") or "")
        return Document(ref=ref, text=f"# {ref.title}\n\n{body}".rstrip() + "\n")

    def _ref(self, item: Any) -> DocumentRef | None:
        if not isinstance(item, dict):
            self._skip("?", "an article that is not a JSON object")
            return None
        article_id = vendor_id(item.get("id"))
        if article_id is None:
            self._skip(str(item.get("id"))[:40], "an article without a numeric id")
            return None
        if item.get("draft") is True:
            return None  # not published help; not an error either
        if self._visibility.channels is None and _restricted(item):
            self._skip(
                article_id,
                "restricted to a user segment, and this source answers everyone; "
                "name its channels to index it",
            )
            return None
        title = clean_title(item.get("title"))
        if title is None:
            self._skip(article_id, "an article without a title")
            return None
        url = item.get("html_url")
        updated = item.get("updated_at")
        return DocumentRef(
            source=self._name,
            id=article_id,
            title=title,
            url=clean_url(url),
            updated=parse_time(updated),
            visibility=self._visibility,
            version=updated if isinstance(updated, str) else "",
        )


def _next(page: dict[str, Any]) -> str | None:
    meta, links = page.get("meta"), page.get("links")
    has_more = isinstance(meta, dict) and meta.get("has_more") is True
    nxt = links.get("next") if isinstance(links, dict) else None
    return nxt if has_more and isinstance(nxt, str) and nxt else None


def _restricted(item: dict[str, Any]) -> bool:
    """Whether only a user segment may view the article (null: everyone may)."""
    return item.get("user_segment_id") is not None or bool(item.get("user_segment_ids"))


def _valid_locale(locale: str) -> bool:
    return 2 <= len(locale) <= 12 and all(c.isascii() and (c.isalnum() or c == "-") for c in locale)
