"""Confluence Cloud pages of chosen spaces as a knowledge source (REST API v2).

Calls, as Atlassian documents them:

- Spaces by key: `GET /wiki/api/v2/spaces?keys=ENG,OPS&limit=N` → their ids.
  https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space/#api-spaces-get
- Pages of a space: `GET /wiki/api/v2/spaces/{id}/pages?limit=N&status=current`;
  the next page is at `_links.next` (a path with a `cursor`), absent on the last;
  `limit` is 1 to 250.
  https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-spaces-id-pages-get
  https://developer.atlassian.com/cloud/confluence/rest/v2/intro/#using
- One page's body: `GET /wiki/api/v2/pages/{id}?body-format=storage` →
  `body.storage.value`, the storage format (XHTML with `ac:` macros).
  https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-pages-id-get
- Auth: Basic `email:api_token` of an Atlassian account (the same kind of token Jira takes).
  https://developer.atlassian.com/cloud/confluence/basic-auth-for-rest-apis/

A page's `id` is its stable id, `version.number` (with `version.createdAt`) its
version, `_links.base` + the page's `_links.webui` its link.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
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

MAX_LIMIT = 250  # the v2 list endpoints' documented maximum for `limit`


class ConfluenceSource(VendorSource):
    """The current pages of the named Confluence Cloud spaces.

    Args:
        name: the source's configured name.
        base_url: the site, `https://{site}.atlassian.net` (the `/wiki` prefix is added).
        email: the Atlassian account the bot reads as.
        token: that account's API token.
        spaces: space keys (`ENG`); each must exist and be readable by the account.
        visibility: who may be answered from these pages.
        transport, client: how requests are sent (see `VendorClient`); default: a client
            of its own, closed by `aclose()`.

    Example:
        >>> source = ConfluenceSource(
        ...     name="wiki", base_url="https://acme.atlassian.net", email="bot@acme.com",
        ...     token="…", spaces=["ENG"], visibility=Visibility.only({"C0123"}))
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        email: str,
        token: str,
        spaces: Sequence[str],
        visibility: Visibility,
        page_size: int = MAX_LIMIT,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        keys = [key.strip() for key in spaces]
        if not keys or any(not _valid_key(key) for key in keys):
            raise KnowledgeSourceError(
                name, f"spaces must be Confluence space keys like `ENG`, got {list(spaces)!r}"
            )
        credentials = base64.b64encode(f"{email}:{token}".encode()).decode()
        self._keys = keys
        self._limit = max(1, min(page_size, MAX_LIMIT))
        site = base_url.rstrip("/")
        self._site = site[: -len("/wiki")] if site.endswith("/wiki") else site
        super().__init__(
            name=name,
            visibility=visibility,
            client=VendorClient(
                source=name,
                base_url=self._site,
                headers={"Authorization": f"Basic {credentials}"},
                transport=transport,
                client=client,
            ),
        )

    async def documents(self) -> AsyncIterator[DocumentRef]:
        """Every current page of the configured spaces, each once."""
        self.skipped = []
        seen: set[str] = set()
        for space_id in await self._space_ids():
            async for item, base in self._pages(f"/wiki/api/v2/spaces/{space_id}/pages"):
                ref = self._ref(item, base)
                if ref is not None and ref.id not in seen:
                    seen.add(ref.id)
                    yield ref

    async def fetch(self, ref: DocumentRef) -> Document:
        """The page's title and body (storage format) as text, headings kept."""
        if vendor_id(ref.id) is None:
            raise KnowledgeSourceError(self._name, f"{ref.id!r} is not a Confluence page id")
        page = await self._client.get_json(
            f"/wiki/api/v2/pages/{ref.id}", params={"body-format": "storage"}
        )
        body = page.get("body")
        storage = body.get("storage") if isinstance(body, dict) else None
        value = storage.get("value") if isinstance(storage, dict) else None
        if not isinstance(value, str):
            raise KnowledgeSourceError(self._name, f"page {ref.id} came back without a body")
        return Document(ref=ref, text=f"# {ref.title}\n\n{html_to_text(value)}".rstrip() + "\n")

    async def _space_ids(self) -> list[str]:
        found: dict[str, str] = {}
        async for item, _ in self._pages("/wiki/api/v2/spaces", keys=",".join(self._keys)):
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                space_id = vendor_id(item.get("id"))
                if space_id is not None:
                    found[item["key"]] = space_id
        missing = [key for key in self._keys if key not in found]
        if missing:
            raise KnowledgeSourceError(
                self._name,
                f"no readable space with key {', '.join(missing)}; check the key and the "
                "account's space permissions",
            )
        return [found[key] for key in self._keys]

    async def _pages(self, path: str, *, keys: str | None = None) -> AsyncIterator[tuple[Any, str]]:
        """The `results` of a v2 list endpoint, following `_links.next`."""
        url: str | None = path
        first: dict[str, str | int] = {"limit": self._limit}
        if keys is not None:
            first["keys"] = keys
        else:
            first["status"] = "current"
        params: dict[str, str | int] | None = first
        guard = PageGuard(self._name)
        while url is not None:
            guard.check(self._client.url(url), params)
            page = await self._client.get_json(url, params=params)
            results = page.get("results")
            if not isinstance(results, list):
                raise KnowledgeSourceError(self._name, f"{path} answered no `results` array")
            links = page.get("_links")
            links = links if isinstance(links, dict) else {}
            base = links.get("base")
            base = base if isinstance(base, str) else f"{self._site}/wiki"
            for item in results:
                yield item, base
            nxt = links.get("next")
            # `next` is a path from the site root (`/wiki/api/v2/...?cursor=...`) and
            # carries every parameter, so none are added again.
            url, params = (nxt if isinstance(nxt, str) and nxt else None), None

    def _ref(self, item: Any, base: str) -> DocumentRef | None:
        if not isinstance(item, dict):
            self._skip("?", "a page that is not a JSON object")
            return None
        page_id = vendor_id(item.get("id"))
        if page_id is None:
            self._skip(str(item.get("id"))[:40], "a page without a numeric id")
            return None
        if item.get("status", "current") != "current":
            return None  # drafts, archived and trashed pages are not answers
        title = clean_title(item.get("title"))
        if title is None:
            self._skip(page_id, "a page without a title")
            return None
        version = item.get("version")
        version = version if isinstance(version, dict) else {}
        number = version.get("number")
        created = version.get("createdAt")
        links = item.get("_links")
        webui = links.get("webui") if isinstance(links, dict) else None
        # `_links.base` comes from the answer too: the joined link is checked as a whole.
        url = (
            clean_url(base.rstrip("/") + webui)
            if isinstance(webui, str) and webui.startswith("/")
            else None
        )
        return DocumentRef(
            source=self._name,
            id=page_id,
            title=title,
            url=url,
            updated=parse_time(created),
            visibility=self._visibility,
            version=f"{number}@{created}" if isinstance(number, int) else str(created or ""),
        )


def _valid_key(key: str) -> bool:
    # Space keys are letters and digits (personal spaces: `~` and an account id).
    return 0 < len(key) <= 255 and key.isascii() and key.replace("~", "").isalnum()
