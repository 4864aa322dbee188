"""Each helpdesk's webhook signature scheme. A wrong, missing or stale signature is refused.

| provider | header | signed bytes | encoding |
| --- | --- | --- | --- |
| zendesk | X-Zendesk-Webhook-Signature (+ -Timestamp) | timestamp + body | base64 HMAC-SHA256 |
| intercom | X-Hub-Signature | body | `sha1=` hex HMAC-SHA1 |
| jira | X-Hub-Signature | body | `sha256=` hex HMAC-SHA256 (GitHub's form) |
| generic | X-Signature-256 (+ -Timestamp) | `timestamp.body` | `sha256=` hex HMAC-SHA256 |
| jira-automation | X-Supportbot-Token (+ -Timestamp) | (none) | the shared secret itself |

Jira Service Management automation's "Send web request" action cannot sign: it
sends the headers the admin types in (a value can be marked Hidden), so it is
let in by a shared secret in a header, compared in constant time; use it only
over HTTPS. https://support.atlassian.com/cloud-automation/docs/jira-automation-actions/
It also sends `X-Supportbot-Timestamp: {{now}}` (rendered `2020-08-18T02:40:37.0+0000`,
https://support.atlassian.com/cloud-automation/docs/jira-smart-values-date-and-time/), held
to the same five minutes as the signed schemes, so a delivery replayed after its job record
expired is refused for its age, not let in because the bot forgot it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

MAX_AGE_SECONDS = 5 * 60
TOKEN_HEADER = "X-Supportbot-Token"
TIMESTAMP_HEADER = "X-Supportbot-Timestamp"


class Provider(StrEnum):
    ZENDESK = "zendesk"
    INTERCOM = "intercom"
    JIRA = "jira"
    GENERIC = "generic"
    JIRA_AUTOMATION = "jira-automation"

    @property
    def helpdesk(self) -> Provider:
        """The helpdesk whose API answers this route's tickets."""
        return Provider.JIRA if self is Provider.JIRA_AUTOMATION else self


def _hex(secret: bytes, data: bytes, digest: str) -> str:
    return hmac.new(secret, data, digest).hexdigest()


def _fresh(timestamp: str, now: float) -> bool:
    """Unix seconds or ISO 8601 (Zendesk), within five minutes of now."""
    try:
        moment = (
            float(timestamp)
            if timestamp.isdigit()
            else datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
        )
    except ValueError:
        return False
    return abs(now - moment) <= MAX_AGE_SECONDS


def sign(provider: Provider, secret: str, body: bytes, timestamp: str = "") -> dict[str, str]:
    """The headers a provider would send with `body` (used by tests and the generic docs)."""
    key = secret.encode()
    if provider is Provider.JIRA_AUTOMATION:
        return {TOKEN_HEADER: secret} | ({TIMESTAMP_HEADER: timestamp} if timestamp else {})
    if provider is Provider.ZENDESK:
        digest = hmac.new(key, timestamp.encode() + body, hashlib.sha256).digest()
        return {
            "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        }
    if provider is Provider.INTERCOM:
        return {"X-Hub-Signature": "sha1=" + _hex(key, body, "sha1")}
    if provider is Provider.JIRA:
        return {"X-Hub-Signature": "sha256=" + _hex(key, body, "sha256")}
    signed = timestamp.encode() + b"." + body
    return {
        "X-Signature-256": "sha256=" + _hex(key, signed, "sha256"),
        "X-Signature-Timestamp": timestamp,
    }


def verify(
    provider: Provider,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
) -> bool:
    """Whether `headers` carry a valid, fresh signature of `body` for `provider`."""
    now = time.time() if now is None else now
    lower = {name.lower(): value for name, value in headers.items()}
    if provider is Provider.JIRA_AUTOMATION:
        given = lower.get(TOKEN_HEADER.lower(), "")
        stamp = lower.get(TIMESTAMP_HEADER.lower(), "")
        token_ok = bool(given) and hmac.compare_digest(given.encode(), secret.encode())
        return token_ok and bool(stamp) and _fresh(stamp, now)
    if provider is Provider.ZENDESK:
        timestamp = lower.get("x-zendesk-webhook-signature-timestamp", "")
        given = lower.get("x-zendesk-webhook-signature", "")
        if not timestamp or not _fresh(timestamp, now):
            return False
    elif provider is Provider.GENERIC:
        timestamp = lower.get("x-signature-timestamp", "")
        given = lower.get("x-signature-256", "")
        if not timestamp.isdigit() or not _fresh(timestamp, now):
            return False
    else:
        timestamp = ""
        given = lower.get("x-hub-signature", "")
    if not given:
        return False
    expected = next(iter(sign(provider, secret, body, timestamp).values()))
    return hmac.compare_digest(given.encode(), expected.encode())
