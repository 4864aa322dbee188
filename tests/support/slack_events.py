"""Signed Slack Events API requests, as Slack sends them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Sequence
from typing import Any

from tests.support.fake_slack import BOT_USER_ID, TEAM_ID

_counter = itertools.count(1)


def next_ts() -> str:
    return f"1700000000.{next(_counter):06d}"


def file_object(
    name: str, base_url: str, *, mimetype: str = "image/png", size: int = 1000
) -> dict[str, Any]:
    url = f"{base_url}/files/{name}"
    return {
        "id": f"F{name.upper()[:8]}",
        "name": name,
        "mimetype": mimetype,
        "size": size,
        "url_private": url,
        "url_private_download": url,
    }


def snippet_object(
    name: str, base_url: str, text: str, *, filetype: str = "text"
) -> dict[str, Any]:
    """A file object for a Slack snippet, as https://docs.slack.dev/reference/objects/file-object
    documents it (a real one: MercuryTechnologies/slack-web
    tests/golden/SlackWebhookEvent/message_file_share.json)."""
    lines = text.split("\n")
    return file_object(name, base_url, mimetype="text/plain", size=len(text.encode())) | {
        "title": name,
        "filetype": filetype,
        "pretty_type": "Plain Text",
        "mode": "snippet",
        "editable": True,
        "preview": "\n".join(lines[:5]),
        "lines": len(lines),
        "lines_more": max(0, len(lines) - 5),
        "preview_is_truncated": len(lines) > 5,
        "file_access": "visible",
    }


def message_event(
    *,
    channel: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    user: str = "UALICE01",
    channel_type: str = "channel",
    files: list[dict[str, Any]] | None = None,
    kind: str = "message",
    subtype: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": ts or next_ts(),
        "channel": channel,
        "channel_type": channel_type,
        "team": TEAM_ID,
    }
    event |= fields  # blocks, attachments: as the event carries them
    if kind == "app_mention":
        event.pop("channel_type")
    if thread_ts:
        event["thread_ts"] = thread_ts
    if files:
        event["files"] = files
        event["subtype"] = subtype or "file_share"
    elif subtype:
        event["subtype"] = subtype
    return event


def mention_event(
    *,
    channel: str,
    text: str,
    files_url: str,
    files: Sequence[str] = (),
    user: str = "UALICE01",
    ts: str | None = None,
) -> dict[str, Any]:
    """An `app_mention` of the bot, with files served by the fake Slack at `files_url`."""
    return message_event(
        channel=channel,
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> {text}",
        files=[file_object(name, files_url) for name in files] or None,
        user=user,
        ts=ts,
    )


def envelope(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0TEST001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_counter):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/json",
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
