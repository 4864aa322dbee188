"""What every vendor's signature check shares.

Each vendor's scheme is in its package (`handlers/helpdesks/<vendor>/signature.py`), and
each package declares its routes (`WebhookRoute`); the shipped ones:

| route | header | signed bytes | encoding |
| --- | --- | --- | --- |
| zendesk | X-Zendesk-Webhook-Signature (+ -Timestamp) | timestamp + body | base64 HMAC-SHA256 |
| intercom | X-Hub-Signature | body | `sha1=` hex HMAC-SHA1 |
| jira | X-Hub-Signature | body | `sha256=` hex HMAC-SHA256 (GitHub's form) |
| generic | X-Signature-256 (+ -Timestamp) | `timestamp.body` | `sha256=` hex HMAC-SHA256 |
| jira-automation | X-Supportbot-Token (+ -Timestamp) | (none) | the shared secret itself |

A wrong, missing or stale signature is refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

MAX_AGE_SECONDS = 5 * 60


def hex_hmac(secret: str, data: bytes, digest: str) -> str:
    return hmac.new(secret.encode(), data, digest).hexdigest()


def fresh(timestamp: str, now: float) -> bool:
    """Unix seconds or ISO 8601 (Zendesk, Jira's `{{now}}`), within five minutes of now."""
    try:
        if timestamp.isdigit():
            moment = float(timestamp)
        else:
            stamp = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
            # A time with no offset is read as UTC, not as this server's local time (which
            # would move the window by hours with the TZ of the process).
            moment = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    except ValueError:
        return False
    return abs(now - moment) <= MAX_AGE_SECONDS


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive (RFC 9110 §5.1)."""
    return {name.lower(): value for name, value in headers.items()}


def same(given: str, expected: str) -> bool:
    """Constant-time: a non-empty `given` equal to `expected`."""
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
