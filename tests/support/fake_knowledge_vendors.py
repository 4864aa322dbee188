"""Fake Zendesk Help Center, Confluence Cloud and Intercom article APIs over real HTTP.

One origin serves all three (each under its own paths), behaving as documented:

- auth on every call, 401 without or with wrong credentials:
  Zendesk Basic `{email}/token:{token}`
  https://developer.zendesk.com/api-reference/introduction/security-and-auth/
  Confluence Basic `email:api_token`
  https://developer.atlassian.com/cloud/confluence/basic-auth-for-rest-apis/
  Intercom `Bearer <token>`
  https://developers.intercom.com/docs/build-an-integration/learn-more/authentication
- paging as each vendor pages, with opaque cursors a client cannot guess:
  Zendesk cursor pagination (`page[size]` ≤ 100, `meta.has_more`, `links.next`),
  offset pagination of 30 when `page[size]` is absent;
  https://developer.zendesk.com/api-reference/introduction/pagination/
  Confluence v2 `limit` 1 to 250 (400 outside), `_links.next` a root-relative path
  with the cursor, also in the `Link` header;
  https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-spaces-id-pages-get
  Intercom `page` / `per_page` ≤ 250 (400 above), `pages.next` the next page's URL,
  absent on the last page, newest `updated_at` first;
  https://developers.intercom.com/docs/references/rest-api/api.intercom.io/articles/listarticles
- 404 for an unknown article, page, space or Help Center locale, in the vendor's error shape;
- 429 on demand: Zendesk and Confluence send `Retry-After` (seconds), Intercom
  `X-RateLimit-Reset` (unix time); a request before the wait is over is refused
  again and counted in `early_requests`.
  https://developer.zendesk.com/api-reference/introduction/rate-limits/
  https://developer.atlassian.com/cloud/confluence/rate-limiting/
  https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting
"""

from __future__ import annotations

import base64
import math
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ZENDESK_EMAIL = "kb-reader@acme.test"
ZENDESK_TOKEN = "zd-kb-token"
CONFLUENCE_EMAIL = "kb-reader@acme.test"
CONFLUENCE_TOKEN = "atl-kb-token"
INTERCOM_TOKEN = "ic-kb-token"

ZENDESK_OFFSET_PAGE = 30  # the articles endpoint's page without page[size] (pagination page)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"after:{index}".encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "after" and number.isdigit() else None


@dataclass
class Throttle:
    times: int = 0
    wait: int = 1
    blocked_until: float = 0.0


class FakeKnowledgeVendors:
    """The three vendors' article/page APIs on one origin; state set by the test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.url = ""  # set by the test once served
        self.zendesk_locales = {"en-us", "zh-cn"}
        self.zendesk_articles: list[dict[str, Any]] = []  # raw items, as listed
        self.confluence_spaces: dict[str, dict[str, Any]] = {}  # id -> space
        self.confluence_pages: dict[str, list[dict[str, Any]]] = {}  # space id -> raw pages
        self.confluence_bodies: dict[str, str] = {}  # page id -> storage format
        self.intercom_articles: list[dict[str, Any]] = []
        self._throttles = {"zendesk": Throttle(), "confluence": Throttle(), "intercom": Throttle()}
        self._failures: dict[str, list[int]] = {"zendesk": [], "confluence": [], "intercom": []}
        self.early_requests = 0
        # A broken API whose `pages.next` points back at page 1 (a client must not loop).
        self.intercom_next_loops = False
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # vendor, path+query, headers
        self.app = Starlette(
            routes=[
                Route("/api/v2/help_center/articles.json", self._zd_list),
                Route("/api/v2/help_center/{locale}/articles.json", self._zd_list),
                Route("/api/v2/help_center/articles/{id}.json", self._zd_show),
                Route("/api/v2/help_center/{locale}/articles/{id}.json", self._zd_show),
                Route("/wiki/api/v2/spaces", self._cf_spaces),
                Route("/wiki/api/v2/spaces/{id}/pages", self._cf_pages),
                Route("/wiki/api/v2/pages/{id}", self._cf_page),
                Route("/articles", self._ic_list),
                Route("/articles/{id}", self._ic_show),
            ]
        )

    # --- test controls -------------------------------------------------------------------

    def throttle(self, vendor: str, times: int, wait: int = 1) -> None:
        """Answer the vendor's next `times` calls with a 429 asking to wait `wait` s."""
        with self._lock:
            self._throttles[vendor] = Throttle(times=times, wait=wait)

    def fail(self, vendor: str, *statuses: int) -> None:
        """Answer the vendor's next calls with these statuses, one each (a 503 during a
        deploy, a 403 when the account lost its role), in the vendor's error shape."""
        with self._lock:
            self._failures[vendor].extend(statuses)

    def add_zendesk_article(
        self, article_id: int, title: str, body: str, *, locale: str = "en-us", **extra: Any
    ) -> None:
        """A published article, as the list and show endpoints return it."""
        self.zendesk_articles.append(
            {
                "id": article_id,
                "url": f"{self.url}/api/v2/help_center/{locale}/articles/{article_id}.json",
                "html_url": f"{self.url}/hc/{locale}/articles/{article_id}-{title[:20]}",
                "title": title,
                "name": title,
                "body": body,
                "locale": locale,
                "source_locale": locale,
                "draft": False,
                "created_at": "2026-01-05T09:00:00Z",
                "updated_at": "2026-03-01T10:00:00Z",
                "edited_at": "2026-03-01T10:00:00Z",
                **extra,
            }
        )

    def add_confluence_space(self, space_id: int, key: str) -> None:
        self.confluence_spaces[str(space_id)] = {
            "id": str(space_id),
            "key": key,
            "name": f"{key} space",
            "type": "global",
            "status": "current",
        }
        self.confluence_pages.setdefault(str(space_id), [])

    def add_confluence_page(
        self, space_id: int, page_id: int, title: str, storage: str, **extra: Any
    ) -> None:
        """A current page; `storage` is its body in the storage format."""
        space = self.confluence_spaces[str(space_id)]
        self.confluence_pages[str(space_id)].append(
            {
                "id": str(page_id),
                "status": "current",
                "title": title,
                "spaceId": str(space_id),
                "parentId": None,
                "authorId": "557058:abc",
                "createdAt": "2026-01-05T09:00:00.000Z",
                "version": {"number": 3, "createdAt": "2026-03-01T10:00:00.000Z"},
                "_links": {"webui": f"/spaces/{space['key']}/pages/{page_id}/{title[:20]}"},
                **extra,
            }
        )
        self.confluence_bodies[str(page_id)] = storage

    def add_intercom_article(self, article_id: int, title: str, body: str, **extra: Any) -> None:
        self.intercom_articles.append(
            {
                "id": str(article_id),
                "type": "article",
                "workspace_id": "ecahpwf5",
                "title": title,
                "description": "",
                "body": body,
                "author_id": 991267407,
                "state": "published",
                "created_at": 1767600000,
                "updated_at": 1772359200 + article_id,
                "url": f"https://help.acme.test/en/articles/{article_id}-x",
                "parent_id": None,
                "default_locale": "en",
                **extra,
            }
        )

    def vendor_requests(self, vendor: str) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            return [(path, headers) for v, path, headers in self.requests if v == vendor]

    # --- shared rules ------------------------------------------------------------------

    def _gate(self, vendor: str, request: Request, authorized: bool) -> Response | None:
        """Records the call, then refuses it as the vendor would: auth, then rate limit."""
        query = f"?{request.url.query}" if request.url.query else ""
        with self._lock:
            self.requests.append((vendor, request.url.path + query, dict(request.headers)))
        if not authorized:
            return _unauthorized(vendor)
        now = time.time()
        with self._lock:
            throttle = self._throttles[vendor]
            if now < throttle.blocked_until:
                self.early_requests += 1
                wait = throttle.blocked_until - now
            elif self._failures[vendor]:
                return _failure(vendor, self._failures[vendor].pop(0))
            elif throttle.times:
                throttle.times -= 1
                wait = float(throttle.wait)
                throttle.blocked_until = now + wait
            else:
                return None
        if vendor == "intercom":
            headers = {
                "X-RateLimit-Limit": "10000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(math.ceil(now + wait)),
            }
            body: dict[str, Any] = _intercom_error("rate_limit_exceeded", "Rate Limit Exceeded")
        else:
            headers = {"Retry-After": str(math.ceil(wait))}
            body = {"error": "APIRateLimitExceeded", "description": "Rate limit exceeded"}
        return JSONResponse(body, status_code=429, headers=headers)

    # --- Zendesk Help Center -------------------------------------------------------------

    def _zd_auth(self, request: Request) -> bool:
        return request.headers.get("authorization") == basic(
            f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN
        )

    async def _zd_list(self, request: Request) -> Response:
        refused = self._gate("zendesk", request, self._zd_auth(request))
        if refused:
            return refused
        locale = request.path_params.get("locale")
        if locale is not None and locale not in self.zendesk_locales:
            return _zd_not_found()
        items = [a for a in self.zendesk_articles if locale is None or a.get("locale") == locale]
        size_text = request.query_params.get("page[size]")
        if size_text is None:
            # Offset pagination: `page`, 30 a page, `next_page` URL (pagination page).
            page = int(request.query_params.get("page", "1") or 1)
            chunk = items[(page - 1) * ZENDESK_OFFSET_PAGE : page * ZENDESK_OFFSET_PAGE]
            more = page * ZENDESK_OFFSET_PAGE < len(items)
            return JSONResponse(
                {
                    "articles": chunk,
                    "page": page,
                    "per_page": ZENDESK_OFFSET_PAGE,
                    "count": len(items),
                    "next_page": f"{request.url.replace(query=f'page={page + 1}')}"
                    if more
                    else None,
                }
            )
        # Cursor pagination: page[size] at most 100 (pagination page).
        if not size_text.isdigit() or not 1 <= int(size_text) <= 100:
            return JSONResponse(
                {"error": "InvalidPaginationParameter", "description": "page[size] must be 1-100"},
                status_code=400,
            )
        size = int(size_text)
        after = request.query_params.get("page[after]")
        start = 0
        if after is not None:
            decoded = _uncursor(after)
            if decoded is None:
                return JSONResponse(
                    {"error": "InvalidPaginationParameter", "description": "bad cursor"},
                    status_code=400,
                )
            start = decoded
        chunk = items[start : start + size]
        end = start + len(chunk)
        has_more = end < len(items)
        base = str(request.url).split("?", 1)[0]
        return JSONResponse(
            {
                "articles": chunk,
                "meta": {
                    "has_more": has_more,
                    "after_cursor": _cursor(end) if chunk else None,
                    "before_cursor": _cursor(start) if chunk else None,
                },
                "links": {
                    "next": f"{base}?page[size]={size}&page[after]={_cursor(end)}"
                    if has_more
                    else None,
                    "prev": None,
                },
            }
        )

    async def _zd_show(self, request: Request) -> Response:
        refused = self._gate("zendesk", request, self._zd_auth(request))
        if refused:
            return refused
        locale = request.path_params.get("locale")
        if locale is not None and locale not in self.zendesk_locales:
            return _zd_not_found()
        for article in self.zendesk_articles:
            if str(article.get("id")) == request.path_params["id"] and (
                locale is None or article.get("locale") == locale
            ):
                return JSONResponse({"article": article})
        return _zd_not_found()

    # --- Confluence Cloud v2 -------------------------------------------------------------

    def _cf_auth(self, request: Request) -> bool:
        return request.headers.get("authorization") == basic(CONFLUENCE_EMAIL, CONFLUENCE_TOKEN)

    def _cf_limit(self, request: Request) -> int | Response:
        text = request.query_params.get("limit", "25")
        if not text.isdigit() or not 1 <= int(text) <= 250:
            return _cf_error(400, "limit must be between 1 and 250")
        return int(text)

    def _cf_list(self, request: Request, items: list[dict[str, Any]]) -> Response:
        limit = self._cf_limit(request)
        if isinstance(limit, Response):
            return limit
        cursor = request.query_params.get("cursor")
        start = 0
        if cursor is not None:
            decoded = _uncursor(cursor)
            if decoded is None:
                return _cf_error(400, "Invalid cursor")
            start = decoded
        chunk = items[start : start + limit]
        end = start + len(chunk)
        links: dict[str, str] = {"base": f"{self.url}/wiki"}
        headers: dict[str, str] = {}
        if end < len(items):
            keep = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
            query = urlencode([*keep, ("cursor", _cursor(end))])
            links["next"] = f"{request.url.path}?{query}"
            headers["Link"] = f'<{links["next"]}>; rel="next"'
        return JSONResponse({"results": chunk, "_links": links}, headers=headers)

    async def _cf_spaces(self, request: Request) -> Response:
        refused = self._gate("confluence", request, self._cf_auth(request))
        if refused:
            return refused
        keys = request.query_params.get("keys")
        wanted = set(keys.split(",")) if keys else None
        spaces = [
            s for s in self.confluence_spaces.values() if wanted is None or s["key"] in wanted
        ]
        return self._cf_list(request, spaces)

    async def _cf_pages(self, request: Request) -> Response:
        refused = self._gate("confluence", request, self._cf_auth(request))
        if refused:
            return refused
        pages = self.confluence_pages.get(request.path_params["id"])
        if pages is None:
            return _cf_error(404, "Space not found")
        status = request.query_params.get("status")
        chosen = [p for p in pages if status is None or p.get("status") == status]
        return self._cf_list(request, chosen)

    async def _cf_page(self, request: Request) -> Response:
        refused = self._gate("confluence", request, self._cf_auth(request))
        if refused:
            return refused
        page_id = request.path_params["id"]
        for pages in self.confluence_pages.values():
            for page in pages:
                if page.get("id") == page_id:
                    # The body comes only in the format asked for with `body-format`.
                    fmt = request.query_params.get("body-format")
                    body: dict[str, Any] = {}
                    if fmt == "storage":
                        body = {
                            "storage": {
                                "representation": "storage",
                                "value": self.confluence_bodies[page_id],
                            }
                        }
                    return JSONResponse({**page, "body": body})
        return _cf_error(404, "Page not found")

    # --- Intercom ------------------------------------------------------------------------

    def _ic_auth(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {INTERCOM_TOKEN}"

    async def _ic_list(self, request: Request) -> Response:
        refused = self._gate("intercom", request, self._ic_auth(request))
        if refused:
            return refused
        page_text = request.query_params.get("page", "1")
        per_text = request.query_params.get("per_page", "25")
        if not page_text.isdigit() or not per_text.isdigit() or not 1 <= int(per_text) <= 250:
            return JSONResponse(
                _intercom_error("parameter_invalid", "per_page must be at most 250"),
                status_code=400,
            )
        page, per_page = max(int(page_text), 1), int(per_text)
        items = sorted(
            self.intercom_articles, key=lambda a: -int(a.get("updated_at") or 0)
        )  # newest updated_at first, as documented
        total_pages = max(math.ceil(len(items) / per_page), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        pages: dict[str, Any] = {
            "type": "pages",
            "page": page,
            "per_page": per_page,
            "total_pages": total_pages,
        }
        if page < total_pages:
            following = 1 if self.intercom_next_loops else page + 1
            pages["next"] = f"{self.url}/articles?page={following}&per_page={per_page}"
        return JSONResponse(
            {"type": "list", "pages": pages, "total_count": len(items), "data": chunk}
        )

    async def _ic_show(self, request: Request) -> Response:
        refused = self._gate("intercom", request, self._ic_auth(request))
        if refused:
            return refused
        for article in self.intercom_articles:
            if str(article.get("id")) == request.path_params["id"]:
                return JSONResponse(article)
        return JSONResponse(_intercom_error("not_found", "Resource Not Found"), status_code=404)


def _unauthorized(vendor: str) -> Response:
    if vendor == "zendesk":
        return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401)
    if vendor == "confluence":
        return _cf_error(401, "Unauthorized")
    return JSONResponse(_intercom_error("unauthorized", "Access Token Invalid"), status_code=401)


def _failure(vendor: str, status: int) -> Response:
    if vendor == "confluence":
        return _cf_error(status, "Failed")
    if vendor == "intercom":
        return JSONResponse(_intercom_error("server_error", "Failed"), status_code=status)
    return JSONResponse({"error": "Failed", "description": "Failed"}, status_code=status)


def _zd_not_found() -> Response:
    return JSONResponse({"error": "RecordNotFound", "description": "Not found"}, status_code=404)


def _cf_error(status: int, title: str) -> Response:
    return JSONResponse(
        {"errors": [{"status": status, "code": str(status), "title": title, "detail": None}]},
        status_code=status,
    )


def _intercom_error(code: str, message: str) -> dict[str, Any]:
    return {
        "type": "error.list",
        "request_id": "000ekqjt4hl7dtq2ms8g",
        "errors": [{"code": code, "message": message}],
    }
