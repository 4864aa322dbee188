"""Reading a vendor's REST API for a knowledge source: JSON pages, auth, rate limits.

One small client the Zendesk, Confluence and Intercom sources share. What it does
for them, each rule as the vendors document it:

- A 429 says when to come back: `Retry-After` in seconds (Zendesk, Confluence), or
  `X-RateLimit-Reset`, the unix time the window resets (Intercom). The client waits
  that long (at most `max_wait`) and tries again, a few times, then gives up with
  the reason; a 5xx is retried the same way after a short pause.
  https://developer.zendesk.com/api-reference/introduction/rate-limits/
  https://developer.atlassian.com/cloud/confluence/rate-limiting/
  https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting
- 401 and 403 mean the credentials are wrong or lack a scope, 404 that the
  address (subdomain, space, locale) is wrong: the same request would fail again,
  so it is not retried and the error says what to check.
- Pagination links (`links.next`, `_links.next`, `pages.next`) come from the
  vendor's answer. They are followed only on the configured origin, so a
  tampered or misconfigured answer cannot send the credentials elsewhere, and
  redirects are never followed for the same reason.
- An answer is read up to `max_bytes`; a larger one is refused, not buffered.
"""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from bot.errors import KnowledgeSourceError
from bot.safety.normalised import invisible

MAX_RETRIES = 4
MAX_WAIT_SECONDS = 120.0
MAX_BYTES = 32 * 1024 * 1024
# A listing longer than this is a loop (a cursor that never ends), not a help center.
MAX_PAGES = 10_000


def requested_wait(headers: httpx.Headers, *, now: float) -> float | None:
    """Seconds the vendor asked to wait, or None when it did not say (or said nonsense)."""
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isascii() and retry_after.isdigit() and len(retry_after) <= 9:
        return float(retry_after)
    reset = headers.get("x-ratelimit-reset", "").strip()
    if reset.isascii() and reset.isdigit() and len(reset) <= 12:
        moment = float(reset)
        # A small number is a count of seconds, a large one a point in time.
        return max(moment - now, 0.0) if moment >= 10**8 else moment
    return None


class VendorClient:
    """GETs JSON from one vendor origin with fixed headers (its auth), for one source.

    Args:
        source: the source's configured name, for errors.
        base_url: the vendor origin (`https://acme.zendesk.com`); every request stays on it.
        headers: sent with every request (authorization, API version).
        transport: an httpx transport for the client this makes (when `client` is None).
        client: a shared `httpx.AsyncClient` to send through instead; not closed here.

    Example:
        >>> client = VendorClient(source="help", base_url="https://acme.zendesk.com", headers={})
    """

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        headers: dict[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        max_retries: int = MAX_RETRIES,
        max_wait: float = MAX_WAIT_SECONDS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise KnowledgeSourceError(source, f"the API address {base_url!r} is not http(s)")
        self.source = source
        self.base_url = base_url.rstrip("/")
        self._origin = (parts.scheme, parts.hostname, parts.port)
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._max_bytes = max_bytes
        # The headers and the no-redirect rule go with every request, so a client shared
        # with the rest of the process (the composition root's) serves as well as our own.
        self._headers = {"Accept": "application/json", **headers}
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport)

    def url(self, path_or_url: str) -> str:
        """An absolute URL on the configured origin; anything pointing elsewhere is refused."""
        absolute = urljoin(self.base_url + "/", path_or_url)
        parts = urlsplit(absolute)
        if (parts.scheme, parts.hostname, parts.port) != self._origin:
            raise KnowledgeSourceError(
                self.source, f"the API pointed at another origin ({parts.hostname}); not followed"
            )
        return absolute

    async def get_json(
        self, path_or_url: str, *, params: dict[str, str | int] | None = None
    ) -> dict[str, Any]:
        """The JSON object at `path_or_url`, after any waits the vendor asks for."""
        url = self.url(path_or_url)
        for attempt in range(self._max_retries + 1):
            try:
                status, headers, body = await self._get(url, params)
            except httpx.TimeoutException as error:
                if attempt < self._max_retries:
                    await asyncio.sleep(min(2.0**attempt, self._max_wait))
                    continue
                raise KnowledgeSourceError(self.source, f"{_path(url)} timed out") from error
            except httpx.HTTPError as error:
                raise KnowledgeSourceError(
                    self.source, f"{_path(url)}: connection failed ({type(error).__name__})"
                ) from error
            if status == 200:
                return self._parse(url, body)
            if status == 429 or status >= 500:
                if attempt == self._max_retries:
                    break
                wait = requested_wait(headers, now=time.time())
                if wait is None:
                    wait = 2.0**attempt
                if wait > self._max_wait:
                    raise KnowledgeSourceError(
                        self.source,
                        f"{_path(url)} answered {status} and asked to wait {wait:.0f} s; "
                        "try the sync later",
                    )
                await asyncio.sleep(wait)
                continue
            raise KnowledgeSourceError(self.source, _refusal(status, url))
        raise KnowledgeSourceError(
            self.source, f"{_path(url)} still answered {status} after {self._max_retries} retries"
        )

    async def _get(
        self, url: str, params: dict[str, str | int] | None
    ) -> tuple[int, httpx.Headers, bytes]:
        async with self._client.stream(
            "GET",
            url,
            params=params,
            headers=self._headers,
            timeout=self._timeout,
            follow_redirects=False,
        ) as response:
            chunks: list[bytes] = []
            size = 0
            if response.status_code == 200:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise KnowledgeSourceError(
                            self.source,
                            f"{_path(url)} answered more than {self._max_bytes} bytes; refused",
                        )
                    chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)

    def _parse(self, url: str, body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise KnowledgeSourceError(self.source, f"{_path(url)} did not answer JSON") from error
        if not isinstance(value, dict):
            raise KnowledgeSourceError(self.source, f"{_path(url)} did not answer a JSON object")
        return value

    async def aclose(self) -> None:
        """Closes the HTTP client, unless it was passed in (its owner closes it)."""
        if self._owns_client:
            await self._client.aclose()


def _path(url: str) -> str:
    return urlsplit(url).path


def _refusal(status: int, url: str) -> str:
    what = f"{_path(url)} answered {status}"
    if status == 401:
        return f"{what}: the credentials were refused; check the email and API token"
    if status == 403:
        return f"{what}: the account may not read this; check its role or the token's scopes"
    if status == 404:
        return f"{what}: not found; check the address, space or locale"
    return f"{what}; not retried, the same request would be refused again"


@dataclass(frozen=True)
class Skipped:
    """A listed item that could not become a document, and why (for the sync summary)."""

    id: str
    reason: str


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 string (`2024-04-17T17:18:10Z`) or unix seconds as an aware datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def vendor_id(value: object) -> str | None:
    """A vendor's item id as text: a positive integer or a short string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= 32 and value.isascii() and value.isdigit():
        return value
    return None


MAX_TITLE = 300


def clean_title(value: object) -> str | None:
    """A title fit to show in a citation: one line, no control or invisible characters
    (bidi overrides, zero-width spaces), at most `MAX_TITLE` characters; None if empty."""
    if not isinstance(value, str):
        return None
    kept = "".join(
        " " if char.isspace() else char
        for char in value[: MAX_TITLE * 4]
        if char.isspace() or not (invisible(char) or unicodedata.category(char) == "Cc")
    )
    title = " ".join(kept.split())[:MAX_TITLE].rstrip()
    return title or None


class PageGuard:
    """Stops a listing that loops (a `next` link seen before) or never ends."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._seen: set[str] = set()

    def check(self, url: str, params: dict[str, str | int] | None) -> None:
        """Refuses `url` (absolute) with `params` when it was asked for before."""
        key = str(httpx.URL(url).copy_merge_params(params or {}))
        if key in self._seen:
            raise KnowledgeSourceError(self._source, f"the API repeated the page {_path(url)}")
        if len(self._seen) >= MAX_PAGES:
            raise KnowledgeSourceError(self._source, f"more than {MAX_PAGES} pages; stopped")
        self._seen.add(key)
