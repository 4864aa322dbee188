"""Zendesk signs `timestamp + body` with HMAC-SHA256, base64, in two headers.
https://developer.zendesk.com/documentation/webhooks/verifying/
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from handlers.webhooks.signatures import fresh, lowered, same

SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
# https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request/
DELIVERY_ID = "x-zendesk-webhook-invocation-id"


def sign(secret: str, body: bytes, timestamp: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {SIGNATURE: base64.b64encode(digest).decode(), TIMESTAMP: timestamp}


def verify(secret: str, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
    lower = lowered(headers)
    timestamp = lower.get(TIMESTAMP.lower(), "")
    if not timestamp or not fresh(timestamp, now):
        return False
    return same(lower.get(SIGNATURE.lower(), ""), sign(secret, body, timestamp)[SIGNATURE])
