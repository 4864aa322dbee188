"""Check a Slack HTTP request before Bolt sees it: signed, fresh, and shaped like Slack's.

This is the bot's one Slack signature check (Bolt's own is turned off in
`handlers.slack.app`), per https://docs.slack.dev/authentication/verifying-requests-from-slack.

Bolt answers a non-numeric timestamp with a 500 and a malformed body with a
stack trace in the log; here each of those is a plain 401 or 400: a timestamp of
anything but a few ASCII digits (`²`, 400 digits), a signature that is not ASCII,
JSON nested past what the parser allows, or fields Bolt reads that have the wrong
shape (`"event": null`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

_MAX_AGE = 5 * 60
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# Fields Bolt reads without checking their type, and the type it assumes.
_OBJECT_FIELDS = ("event", "team", "user", "channel", "message", "view", "container", "actions")


class SlackRequestGuard:
    """Verifies Slack's signature and the body's shape; returns an error response or None."""

    def __init__(self, signing_secret: str) -> None:
        self._secret = signing_secret.encode()

    async def refuse(self, request: Request) -> Response | None:
        body = await request.body()
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        # `str.isdigit` accepts `²` and `٣`; Slack sends Unix seconds in ASCII digits.
        if not _TIMESTAMP.fullmatch(timestamp) or abs(time.time() - int(timestamp)) > _MAX_AGE:
            return _error(401, "missing, malformed or stale request timestamp")
        given = signature.encode("utf-8", "surrogateescape")
        if not signature or not hmac.compare_digest(given, self._sign(timestamp, body).encode()):
            return _error(401, "invalid request signature")
        if not _looks_like_slack(body, request.headers.get("content-type", "")):
            return _error(400, "request body is not a Slack payload")
        return None

    def _sign(self, timestamp: str, body: bytes) -> str:
        # Over the raw bytes: slack_sdk's verifier decodes them first and raises on bad UTF-8.
        digest = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
        return "v0=" + digest.hexdigest()


def _looks_like_slack(body: bytes, content_type: str) -> bool:
    try:
        if content_type.startswith("application/json"):
            payload = json.loads(body)
            return (
                isinstance(payload, dict)
                and isinstance(payload.get("type"), str)
                and _well_shaped(payload)
            )
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        if "payload" in form:  # interactivity: a JSON object in a form field
            payload = json.loads(form["payload"][0])
            return isinstance(payload, dict) and _well_shaped(payload)
        return "command" in form or "ssl_check" in form
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False


def _well_shaped(payload: dict[str, Any]) -> bool:
    """The fields Bolt reads have the type it assumes: `event` an object, the others an
    object (`actions` a list) or null, as Slack sends some of them."""
    for name in _OBJECT_FIELDS:
        value = payload.get(name)
        expected: type = list if name == "actions" else dict
        if (
            name in payload
            and not isinstance(value, expected)
            and (value is not None or name == "event")
        ):
            return False
    if payload.get("type") == "event_callback" and not isinstance(payload.get("event"), dict):
        return False
    event = payload.get("event")
    return not isinstance(event, dict) or isinstance(event.get("type", ""), str)


def _error(status: int, reason: str) -> Response:
    return JSONResponse({"error": reason}, status_code=status)
