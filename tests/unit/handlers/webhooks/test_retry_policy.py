"""Which helpdesk failures are retried, and after how long (rules cited in retry_policy)."""

from __future__ import annotations

import itertools
import random
from email.utils import formatdate

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.webhooks.retry_policy import (
    MAX_DELAY_SECONDS,
    GiveUp,
    Retry,
    backoff,
    classify,
    requested_wait,
)

NOW = 1_700_000_000.0


def _status_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("PUT", "https://acme.zendesk.com/api/v2/tickets/1.json")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError("refused", request=request, response=response)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 410, 413, 422])
def test_a_refusal_is_never_retried(status: int) -> None:
    verdict = classify(_status_error(status), now=NOW)
    assert isinstance(verdict, GiveUp)
    assert str(status) in verdict.reason and "not retried" in verdict.reason


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_a_failure_that_may_pass_is_retried(status: int) -> None:
    assert isinstance(classify(_status_error(status), now=NOW), Retry)


def test_zendesk_and_jira_429_wait_the_retry_after_seconds() -> None:
    verdict = classify(_status_error(429, {"Retry-After": "93"}), now=NOW)
    assert verdict == Retry(verdict.reason, 93.0)


def test_jira_503_with_retry_after_is_honoured_too() -> None:
    verdict = classify(_status_error(503, {"Retry-After": "7"}), now=NOW)
    assert isinstance(verdict, Retry) and verdict.at_least == 7.0


def test_retry_after_as_an_http_date() -> None:
    headers = httpx.Headers({"Retry-After": formatdate(NOW + 120, usegmt=True)})
    assert requested_wait(headers, now=NOW) == pytest.approx(120, abs=1)


def test_intercom_429_waits_until_the_reset_time() -> None:
    # Intercom sends no Retry-After, only X-RateLimit-Reset as a unix time.
    headers = httpx.Headers({"X-RateLimit-Reset": str(int(NOW) + 10)})
    assert requested_wait(headers, now=NOW) == pytest.approx(10)


def test_jira_reset_as_an_iso_time() -> None:
    headers = httpx.Headers({"X-RateLimit-Reset": "2023-11-14T22:14Z"})  # NOW + 40 s
    assert requested_wait(headers, now=NOW) == pytest.approx(40, abs=1)


def test_a_reset_in_the_past_or_an_unreadable_header_means_no_wait() -> None:
    assert requested_wait(httpx.Headers({"X-RateLimit-Reset": str(int(NOW) - 5)}), now=NOW) == 0
    assert requested_wait(httpx.Headers({"Retry-After": "soon"}), now=NOW) == 0
    assert requested_wait(httpx.Headers(), now=NOW) == 0


def test_an_enormous_wait_is_capped() -> None:
    assert requested_wait(httpx.Headers({"Retry-After": "999999999"}), now=NOW) == 3600


@given(st.text(max_size=40), st.text(max_size=40))
def test_any_header_value_gives_a_wait_within_bounds(retry_after: str, reset: str) -> None:
    headers = {"retry-after": retry_after, "x-ratelimit-reset": reset}
    try:
        built = httpx.Headers({k: v for k, v in headers.items() if v.isprintable()})
    except (UnicodeEncodeError, ValueError):
        return
    wait = requested_wait(built, now=NOW)
    assert 0.0 <= wait <= MAX_DELAY_SECONDS


def test_timeouts_and_dropped_connections_are_retried() -> None:
    request = httpx.Request("POST", "https://x.test/")
    assert isinstance(classify(httpx.ReadTimeout("slow", request=request), now=NOW), Retry)
    assert isinstance(classify(httpx.ConnectError("refused", request=request), now=NOW), Retry)


def test_a_malformed_address_is_not_retried() -> None:
    try:
        httpx.Request("PUT", "https://x.test/api/v2/tickets/12\n3.json")
    except httpx.InvalidURL as error:
        assert isinstance(classify(error, now=NOW), GiveUp)
    else:
        raise AssertionError("httpx accepted a URL with a line break")


def test_an_unexpected_error_is_retried_and_named() -> None:
    verdict = classify(KeyError("ticket"), now=NOW)
    assert isinstance(verdict, Retry) and "KeyError" in verdict.reason


def test_backoff_grows_over_minutes_and_is_capped_at_an_hour() -> None:
    rng = random.Random(7)
    waits = [backoff(attempt, first=30.0, rng=rng) for attempt in range(1, 8)]
    assert 27 <= waits[0] <= 33 and 108 <= waits[1] <= 132 and 432 <= waits[2] <= 528
    assert all(later > earlier for earlier, later in itertools.pairwise(waits[:5]))
    assert all(wait <= MAX_DELAY_SECONDS * 1.1 for wait in waits)
    assert sum(waits[:5]) > 30 * 60, "five attempts span more than half an hour"
