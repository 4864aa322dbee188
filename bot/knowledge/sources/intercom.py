"""Intercom Help Center articles as a knowledge source.

Calls, as Intercom documents them:

- List: `GET /articles?page=N&per_page=M` with `Intercom-Version`; the answer's
  `pages.next` is the next page's URL (absent on the last page); `per_page` at
  most 250; newest `updated_at` first.
  https://developers.intercom.com/docs/references/rest-api/api.intercom.io/articles/listarticles
  https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/pagination
- Fetch: `GET /articles/{id}`.
  https://developers.intercom.com/docs/references/rest-api/api.intercom.io/articles/retrievearticle
- Auth: `Authorization: Bearer <access token>`.
  https://developers.intercom.com/docs/build-an-integration/learn-more/authentication
- Rate limits answer 429 with `X-RateLimit-Reset` (unix seconds), honoured by the client.
  https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting

An article's `id` is its stable id, `updated_at` (unix seconds) its version, `url`
its public help-center link; drafts (`state: draft`) are left out.
"""

from __future__ import annotations

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

MAX_PER_PAGE = 250
API_VERSION = "2.11"


class IntercomArticlesSource(VendorSource):
    """Published articles of one Intercom workspace's Help Center.

    Args:
        name: the source's configured name.
        token: the workspace access token (INTERCOM_TOKEN).
        visibility: who may be answered from these articles.
        base_url: the regional API host (INTERCOM_URL; `https://api.eu.intercom.io` in the EU).
        transport, client: how requests are sent (see `VendorClient`); default: a client
            of its own, closed by `aclose()`.

    Example:
        >>> source = IntercomArticlesSource(name="faq", token="…", visibility=Visibility.everyone())
    """

    def __init__(
        self,
        *,
        name: str,
        token: str,
        visibility: Visibility,
        base_url: str = "https://api.intercom.io",
        api_version: str = API_VERSION,
        page_size: int = 50,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._per_page = max(1, min(page_size, MAX_PER_PAGE))
        super().__init__(
            name=name,
            visibility=visibility,
            client=VendorClient(
                source=name,
                base_url=base_url,
                headers={"Authorization": f"Bearer {token}", "Intercom-Version": api_version},
                transport=transport,
                client=client,
            ),
        )

    async def documents(self) -> AsyncIterator[DocumentRef]:
        """Every published article, each once, across all pages."""
        self.skipped = []
        seen: set[str] = set()
        url: str | None = "/articles"
        params: dict[str, str | int] | None = {"page": 1, "per_page": self._per_page}
        guard = PageGuard(self._name)
        while url is not None:
            guard.check(self._client.url(url), params)
            page = await self._client.get_json(url, params=params)
            data = page.get("data")
            if not isinstance(data, list):
                raise KnowledgeSourceError(self._name, "the article list has no `data` array")
            for item in data:
                ref = self._ref(item)
                if ref is not None and ref.id not in seen:
                    seen.add(ref.id)
                    yield ref
            url, params = _next(page, self._per_page)

    async def fetch(self, ref: DocumentRef) -> Document:
        """The article's title and body as text, headings kept."""
        if vendor_id(ref.id) is None:
            raise KnowledgeSourceError(self._name, f"{ref.id!r} is not an Intercom article id")
        article = await self._client.get_json(f"/articles/{ref.id}")
        body = article.get("body")
        if not isinstance(body, str | None):
            raise KnowledgeSourceError(self._name, f"article {ref.id} came back without a body")
        text = html_to_text(body or "")
        return Document(ref=ref, text=f"# {ref.title}\n\n{text}".rstrip() + "\n")

    def _ref(self, item: Any) -> DocumentRef | None:
        if not isinstance(item, dict):
            self._skip("?", "an article that is not a JSON object")
            return None
        article_id = vendor_id(item.get("id"))
        if article_id is None:
            self._skip(str(item.get("id"))[:40], "an article without a numeric id")
            return None
        if item.get("state", "published") != "published":
            return None  # drafts are not answers
        title = clean_title(item.get("title"))
        if title is None:
            self._skip(article_id, "an article without a title")
            return None
        url = item.get("url")
        updated = item.get("updated_at")
        return DocumentRef(
            source=self._name,
            id=article_id,
            title=title,
            url=clean_url(url),
            updated=parse_time(updated),
            visibility=self._visibility,
            version=str(updated) if isinstance(updated, int) else "",
        )


def _next(page: dict[str, Any], per_page: int) -> tuple[str | None, dict[str, str | int] | None]:
    """The next page: `pages.next` as a URL, or (on endpoints that page by cursor) an
    object with `page` / `starting_after`."""
    pages = page.get("pages")
    nxt = pages.get("next") if isinstance(pages, dict) else None
    if isinstance(nxt, str) and nxt:
        return nxt, None
    if isinstance(nxt, dict):
        params: dict[str, str | int] = {"per_page": per_page}
        if isinstance(nxt.get("starting_after"), str):
            params["starting_after"] = nxt["starting_after"]
        elif isinstance(nxt.get("page"), int):
            params["page"] = nxt["page"]
        else:
            return None, None
        return "/articles", params
    return None, None
