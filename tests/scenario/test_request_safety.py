"""Hostile HTTP requests get a plain 4xx, never a 500 or a stack trace, and nothing is answered."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.running_bot import SIGNING_SECRET, RunningBot
from tests.support.slack_events import signed_headers

pytestmark = pytest.mark.slow


def _post(bot: RunningBot, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)


@pytest.mark.parametrize("timestamp", ["not-a-number", "", "1e9", str(int(time.time()) - 3600)])
def test_bad_or_stale_timestamp_is_401(running_bot: RunningBot, timestamp: str) -> None:
    body = b'{"type": "event_callback"}'
    headers = signed_headers(SIGNING_SECRET, body) | {"X-Slack-Request-Timestamp": timestamp}
    response = _post(running_bot, body, headers)
    assert response.status_code == 401
    assert "Traceback" not in response.text


def test_missing_signature_headers_is_401(running_bot: RunningBot) -> None:
    response = _post(
        running_bot, b'{"type": "event_callback"}', {"Content-Type": "application/json"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'"event_callback"', b'{"no_type": 1}', b"\xff\xfe"]
)
def test_signed_body_that_is_not_a_slack_payload_is_400(
    running_bot: RunningBot, body: bytes
) -> None:
    response = _post(running_bot, body, signed_headers(SIGNING_SECRET, body))
    assert response.status_code == 400
    assert response.json() == {"error": "request body is not a Slack payload"}


def test_oversized_body_is_413_before_anything_reads_it(running_bot: RunningBot) -> None:
    body = b'{"type": "event_callback", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = _post(running_bot, body, signed_headers(SIGNING_SECRET, body))
    assert response.status_code == 413


def test_url_verification_still_works(running_bot: RunningBot) -> None:
    body = b'{"type": "url_verification", "challenge": "abc123", "token": "t"}'
    response = _post(running_bot, body, signed_headers(SIGNING_SECRET, body))
    assert response.status_code == 200
    assert response.json() == {"challenge": "abc123"}


def test_the_bot_is_healthy_after_all_of_that(running_bot: RunningBot) -> None:
    assert httpx.get(f"{running_bot.url}/readyz").status_code == 200
