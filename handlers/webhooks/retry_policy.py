"""Which failures of a helpdesk job are worth another attempt, and after how long.

The vendors' own rules:

- A 429 says when to come back. Zendesk and Jira send `Retry-After` in seconds,
  and Jira's retry before it is over "will fail and return the same or longer
  Retry-After period"; Intercom sends no `Retry-After` but `X-RateLimit-Reset`,
  the unix time the window resets; Jira's `X-RateLimit-Reset` is an ISO 8601 time.
  https://developer.zendesk.com/api-reference/introduction/rate-limits/
  https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
  https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting
- Some transient 5xx (Jira's 503) carry `Retry-After` too, and are handled alike.
- 400, 401, 403, 404 and 422 (and the other 4xx) say the request itself is wrong
  or not allowed: the same request would be refused again, so it is not retried.
- A timeout or a dropped connection may pass: retried. A malformed address will not.

Anything else (a bug, input nothing anticipated) is retried too, but counts
toward the job's attempts, so a job that keeps failing ends in the dead letters
instead of stopping the runner.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from handlers.webhooks.ids import BadTicketId

# A vendor asking for more than this is believed only up to it: the job is not
# parked for days on one header.
MAX_DELAY_SECONDS = 3600.0
_RETRIED_STATUSES = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class Retry:
    """Try again, no sooner than `at_least` seconds from now."""

    reason: str
    at_least: float = 0.0


@dataclass(frozen=True)
class GiveUp:
    """Another attempt cannot succeed."""

    reason: str


def classify(error: BaseException, *, now: float) -> Retry | GiveUp:
    """Whether the job that raised `error` is tried again, and the least wait the vendor asked."""
    if isinstance(error, httpx.HTTPStatusError):
        response = error.response
        status = response.status_code
        what = f"{response.request.method} {response.request.url.path} answered {status}"
        if status in _RETRIED_STATUSES or status >= 500:
            return Retry(what, requested_wait(response.headers, now=now))
        return GiveUp(f"{what} (not retried: the same request would be refused again)")
    if isinstance(error, BadTicketId):
        return GiveUp(f"the ticket id is not in its helpdesk's format: {error}")
    if isinstance(error, httpx.InvalidURL | httpx.UnsupportedProtocol):
        # The address itself is malformed (a ticket id with a line break, `http://[::1`):
        # it will be just as malformed next time.
        return GiveUp(f"the request could not be made: {type(error).__name__}: {error}")
    if isinstance(error, httpx.TimeoutException):
        return Retry(f"timed out: {type(error).__name__}")
    if isinstance(error, httpx.TransportError):
        return Retry(f"connection failed: {type(error).__name__}: {error}")
    return Retry(f"{type(error).__name__}: {error}")


def requested_wait(headers: httpx.Headers, *, now: float) -> float:
    """Seconds the vendor asked to wait (0 when it did not say), never negative, at most an hour.

    Reads `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset` (unix
    seconds, or an ISO 8601 time as Jira writes it). A value that cannot be read
    counts as not said.
    """
    retry_after = headers.get("retry-after", "").strip()
    if retry_after:
        wait = _seconds(retry_after)
        if wait is None:
            wait = _until(_http_date(retry_after), now)
        if wait is not None:
            return _bounded(wait)
    reset = headers.get("x-ratelimit-reset", "").strip()
    if reset:
        moment = _number(reset)
        if moment is None:
            moment = _iso(reset)
        # A small number is a count of seconds, a large one a point in time.
        if moment is not None:
            return _bounded(moment if moment < 10**8 else moment - now)
    return 0.0


def backoff(attempt: int, *, first: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based).

    `first`, then four times longer each time, at most an hour, with ±10 % jitter so
    replicas that failed together do not retry together.
    """
    base = min(first * 4.0 ** min(max(attempt - 1, 0), 20), MAX_DELAY_SECONDS)
    jitter: float = (rng or random.Random()).uniform(0.9, 1.1)
    return base * jitter


def _bounded(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_DELAY_SECONDS)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _seconds(text: str) -> float | None:
    return float(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def _http_date(text: str) -> float | None:
    try:
        return parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _iso(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _until(moment: float | None, now: float) -> float | None:
    return None if moment is None else moment - now
