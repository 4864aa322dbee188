"""A small documentation site over real HTTP, for the web knowledge source.

It serves what a crawler meets on a real site: robots.txt (RFC 9309), a sitemap
(https://www.sitemaps.org/protocol.html), pages with `Last-Modified`, links with
fragments and tracking queries, a PDF, a page too big to read, redirects inside the
site, off the host and to a private address, a redirect loop, a server error and a
missing page. Pages can be changed or removed between syncs (`pages`), robots.txt
can fail (`robots_status`), and every request is recorded (`requested`), so a test
can tell what the crawler never asked for.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

LAST_MODIFIED = "Tue, 15 Nov 2022 08:12:31 GMT"
MARKER = "Zq9SCRIPTq9Z"
HUGE_BYTES = 6 * 1024 * 1024

ROBOTS = "User-agent: *\nDisallow: /docs/private/\n"


def _page(title: str, body: str) -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def default_pages(site: str, other_host: str) -> dict[str, str]:
    """Path to HTML; `site` is this site's origin, `other_host` another server's."""
    return {
        "/docs/": _page(
            "Runbooks",
            "<h1>Runbooks</h1><ul>"
            '<li><a href="vault.html">Vault</a></li>'
            '<li><a href="/docs/deploy.html#step-2">Deploy</a></li>'
            '<li><a href="deploy.html?utm_source=nav">Deploy again</a></li>'
            '<li><a href="private/keys.html">Keys</a></li>'
            '<li><a href="manual.pdf">Manual</a></li>'
            '<li><a href="huge.html">Huge</a></li>'
            '<li><a href="moved">Moved</a></li>'
            '<li><a href="off-host">Elsewhere</a></li>'
            '<li><a href="to-private">Internal</a></li>'
            '<li><a href="loop">Loop</a></li>'
            '<li><a href="broken.html">Broken</a></li>'
            '<li><a href="missing.html">Missing</a></li>'
            '<li><a href="../blog/news.html">Blog</a></li>'
            f'<li><a href="{other_host}/docs/vault.html">Mirror</a></li>'
            '<li><a href="javascript:alert(1)">Script link</a></li>'
            "</ul>",
        ),
        "/docs/vault.html": _page(
            "Vault token expired",
            "<h1>Vault</h1><h2>ACME-4012: vault token expired</h2>"
            "<p>Run <code>acme-vault renew --role deploy</code>.</p>"
            '<p><a href="scripts.html">More</a></p>',
        ),
        "/docs/deploy.html": _page(
            "Deploy job",
            "<h1>Deploy</h1><h2>The job fails at step migrate</h2><p>Unlock the schema.</p>",
        ),
        "/docs/scripts.html": _page(
            "Scripted page",
            f"<script>var stolen='{MARKER}';</script><style>p{{content:'{MARKER}'}}</style>"
            "<h1>Cache</h1><p>Flush the CDN cache with <code>acme-cdn purge</code>.</p>"
            f"<noscript>{MARKER}</noscript>",
        ),
        "/docs/private/keys.html": _page("Keys", "<p>robots.txt keeps this out</p>"),
        "/blog/news.html": _page("News", "<p>outside the start URL's path</p>"),
        "/docs/sitemap.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"<url><loc>{site}/docs/vault.html</loc><lastmod>2024-03-01T10:00:00+00:00</lastmod></url>\n"
            f"<url><loc>{site}/docs/deploy.html?from=sitemap&amp;x=1</loc></url>\n"
            f"<url><loc>{site}/docs/private/keys.html</loc></url>\n"
            f"<url><loc>{site}/blog/news.html</loc></url>\n"
            f"<url><loc>{other_host}/docs/deploy.html</loc></url>\n"
            "</urlset>\n"
        ),
    }


class FakeWebsite:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.url = ""  # this site's origin, set once served
        self.other_host = ""  # another host's origin, set once served
        self.pages: dict[str, str] = {}
        self.robots_status = 200
        self.requested: list[str] = []
        self.user_agents: set[str] = set()
        self.app = Starlette(routes=[Route("/{path:path}", self._get, methods=["GET"])])

    def serve_defaults(self) -> None:
        self.pages = default_pages(self.url, self.other_host)

    async def _get(self, request: Request) -> Response:
        path = request.url.path
        with self._lock:
            self.requested.append(path)
            self.user_agents.add(request.headers.get("user-agent", ""))
        if path == "/robots.txt":
            if self.robots_status != 200:
                return PlainTextResponse("unavailable", status_code=self.robots_status)
            return PlainTextResponse(ROBOTS)
        if path == "/docs/moved":
            return RedirectResponse("/docs/deploy.html", status_code=301)
        if path == "/docs/off-host":
            return RedirectResponse(f"{self.other_host}/docs/vault.html", status_code=302)
        if path == "/docs/to-private":
            return RedirectResponse("http://10.1.2.3/docs/vault.html", status_code=302)
        if path == "/docs/loop":
            return RedirectResponse("/docs/loop", status_code=302)
        if path == "/docs/broken.html":
            return PlainTextResponse("boom", status_code=500)
        if path == "/docs/manual.pdf":
            return Response(b"%PDF-1.7 not a page", media_type="application/pdf")
        if path == "/docs/huge.html":
            return StreamingResponse(_huge(), media_type="text/html")  # no Content-Length
        page = self.pages.get(path)
        if page is None:
            return PlainTextResponse("not found", status_code=404)
        if path.endswith(".xml"):
            return Response(page, media_type="application/xml")
        headers = {"Last-Modified": LAST_MODIFIED} if path == "/docs/vault.html" else {}
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)


async def _huge() -> AsyncIterator[bytes]:
    chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
    for _ in range(HUGE_BYTES // len(chunk) + 1):
        yield chunk
