"""Hostile HTTP requests get a plain 4xx, never a 500 or a stack trace, and nothing is answered."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import httpx
import pytest

from bot.messages import Message, say
from tests.support.fake_slack import TEAM_ID
from tests.support.running_bot import SIGNING_SECRET, RunningBot
from tests.support.slack_events import signed_headers

pytestmark = pytest.mark.slow


def _post(bot: RunningBot, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    "timestamp",
    # Named: each pytest worker collects its own, and the collections must match.
    ["not-a-number", "", "1e9", pytest.param(str(int(time.time()) - 3600), id="an-hour-old")],
)
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


def _no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


def _raw(value: str) -> bytes:
    """A header value as bytes on the wire (Starlette reads them back as latin-1)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


@pytest.mark.parametrize("timestamp", ["\u00b2", "\u00b9\u00b2\u00b3", "9" * 400, "-1", "1" * 13])
def test_unsigned_request_with_an_odd_timestamp_is_401_not_500(
    running_bot: RunningBot, timestamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"type": "event_callback"}'
    headers = [
        (b"X-Slack-Request-Timestamp", _raw(timestamp)),
        (b"X-Slack-Signature", b"v0=abc"),
        (b"Content-Type", b"application/json"),
    ]
    response = httpx.post(
        f"{running_bot.url}/slack/events", content=body, headers=headers, timeout=10
    )
    assert response.status_code == 401
    assert list(response.json()) == ["error"] and "Traceback" not in response.text
    _no_error_logged(caplog)


@pytest.mark.parametrize("signature", ["v0=é", "v0=\u00ff\u00fe", "é" * 70, "v0=" + "a" * 5000])
def test_a_non_ascii_or_odd_signature_is_401_not_500(
    running_bot: RunningBot, signature: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"type": "event_callback"}'
    headers = signed_headers(SIGNING_SECRET, body)
    headers["X-Slack-Signature"] = signature
    raw = [(k.encode(), _raw(v)) for k, v in headers.items()]
    response = httpx.post(f"{running_bot.url}/slack/events", content=body, headers=raw, timeout=10)
    assert response.status_code == 401
    _no_error_logged(caplog)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"type": "event_callback", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"type": "event_callback", "event": null}',
        b'{"type": "event_callback", "event": "hi"}',
        b'{"type": "event_callback", "event": []}',
        b'{"type": "event_callback", "event": {"type": 7}}',
        b'{"type": "event_callback", "team": "T1", "event": {"type": "message"}}',
        b'{"type": "block_actions", "actions": {"a": 1}}',
    ],
)
def test_signed_bodies_bolt_would_choke_on_are_400(
    running_bot: RunningBot, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    response = _post(running_bot, body, signed_headers(SIGNING_SECRET, body))
    assert response.status_code == 400
    assert response.json() == {"error": "request body is not a Slack payload"}
    _no_error_logged(caplog)


def test_a_deeply_nested_interactivity_payload_is_400(running_bot: RunningBot) -> None:
    body = b"payload=" + b"%5B" * 100_000 + b"%5D" * 100_000
    headers = signed_headers(SIGNING_SECRET, body) | {
        "Content-Type": "application/x-www-form-urlencoded"
    }
    assert _post(running_bot, body, headers).status_code == 400


def test_the_bot_is_healthy_after_all_of_that(running_bot: RunningBot) -> None:
    assert httpx.get(f"{running_bot.url}/readyz").status_code == 200


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# A slash command and an interactivity payload, shaped as in test_slack_unhandled.py.
_SLASH_COMMAND = urlencode(
    {
        "team_id": TEAM_ID,
        "channel_id": "CNOESC",
        "user_id": "UALICE01",
        "command": "/escalate",
        "text": "",
        "response_url": "https://hooks.slack.com/commands/T1/1/x",
        "trigger_id": "111.222.xxx",
    }
).encode()
_INTERACTIVITY = urlencode(
    {
        "payload": json.dumps(
            {
                "type": "block_actions",
                "team": {"id": TEAM_ID},
                "user": {"id": "UALICE01"},
                "channel": {"id": "COLD"},
                "trigger_id": "111.222.valid",
                "response_url": "https://hooks.slack.com/actions/T1/1/x",
                "actions": [{"action_id": "take_escalation", "type": "button", "value": "x"}],
            }
        )
    }
).encode()


def _forged(body: bytes, how: str) -> tuple[bytes, dict[str, str]]:
    """`body` sent unsigned, signed with another secret, signed for other bytes, or replayed."""
    if how == "unsigned":
        return body, dict(_FORM)
    if how == "other secret":
        return body, signed_headers("not-the-signing-secret", body) | _FORM
    if how == "other body":  # a signature over the bytes before one was changed
        return body + b"&text=pwned", signed_headers(SIGNING_SECRET, body) | _FORM
    stale = int(time.time()) - 6 * 60  # past Slack's five-minute replay window
    return body, signed_headers(SIGNING_SECRET, body, timestamp=stale) | _FORM


_REASONS = {
    "unsigned": "missing, malformed or stale request timestamp",
    "other secret": "invalid request signature",
    "other body": "invalid request signature",
    "replayed": "missing, malformed or stale request timestamp",
}


@pytest.mark.parametrize("how", ["unsigned", "other secret", "other body", "replayed"])
@pytest.mark.parametrize("body", [_SLASH_COMMAND, _INTERACTIVITY], ids=["command", "interaction"])
def test_a_forged_slash_command_or_interaction_is_401(
    running_bot: RunningBot, body: bytes, how: str
) -> None:
    """Bolt's own check is off: the one guard covers commands and interactivity too
    (https://docs.slack.dev/authentication/verifying-requests-from-slack)."""
    sent, headers = _forged(body, how)
    response = _post(running_bot, sent, headers)
    assert response.status_code == 401
    assert response.json() == {"error": _REASONS[how]}


def test_the_same_slash_command_signed_is_answered(running_bot: RunningBot) -> None:
    """The control for the forged ones: signed, it reaches the command's listener."""
    response = _post(
        running_bot, _SLASH_COMMAND, signed_headers(SIGNING_SECRET, _SLASH_COMMAND) | _FORM
    )
    assert response.status_code == 200
    assert response.text == say(Message.ESCALATION_NOT_CONFIGURED)
