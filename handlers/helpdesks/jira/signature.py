"""Jira's two routes: its webhook signs, its automation rule cannot.

- Webhook: `X-Hub-Signature: sha256=` hex HMAC-SHA256 of the body (GitHub's form).
  https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks
- Automation's "Send web request" sends the headers the admin types in (a value can be
  marked Hidden), so it is let in by a shared secret in a header, compared in constant time;
  use it only over HTTPS. https://support.atlassian.com/cloud-automation/docs/jira-automation-actions/
  It also sends `X-Supportbot-Timestamp: {{now}}` (rendered `2020-08-18T02:40:37.0+0000`,
  https://support.atlassian.com/cloud-automation/docs/jira-smart-values-date-and-time/), held
  to the same five minutes as the signed schemes, so a delivery replayed after its job record
  expired is refused for its age, not let in because the bot forgot it.
"""

from __future__ import annotations

from collections.abc import Mapping

from handlers.webhooks.signatures import fresh, hex_hmac, lowered, same

SIGNATURE = "X-Hub-Signature"
TOKEN_HEADER = "X-Supportbot-Token"
TIMESTAMP_HEADER = "X-Supportbot-Timestamp"
# "unchanged across retries": https://developer.atlassian.com/cloud/jira/platform/webhooks/
DELIVERY_ID = "x-atlassian-webhook-identifier"


def sign(secret: str, body: bytes, timestamp: str = "") -> dict[str, str]:
    return {SIGNATURE: "sha256=" + hex_hmac(secret, body, "sha256")}


def verify(secret: str, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
    given = lowered(headers).get(SIGNATURE.lower(), "")
    return same(given, sign(secret, body)[SIGNATURE])


def automation_headers(secret: str, timestamp: str = "") -> dict[str, str]:
    return {TOKEN_HEADER: secret} | ({TIMESTAMP_HEADER: timestamp} if timestamp else {})


def verify_automation(headers: Mapping[str, str], secret: str, *, now: float) -> bool:
    lower = lowered(headers)
    stamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    return same(lower.get(TOKEN_HEADER.lower(), ""), secret) and bool(stamp) and fresh(stamp, now)
