"""The generic webhook's scheme: `X-Signature-256: sha256=` hex HMAC-SHA256 of
`timestamp.body`, with the unix timestamp in `X-Signature-Timestamp` (Slack's and Stripe's
shape), so a captured delivery cannot be replayed later."""

from __future__ import annotations

from collections.abc import Mapping

from handlers.webhooks.signatures import fresh, hex_hmac, lowered, same

SIGNATURE = "X-Signature-256"
TIMESTAMP = "X-Signature-Timestamp"
DELIVERY_ID = "x-delivery-id"


def sign(secret: str, body: bytes, timestamp: str) -> dict[str, str]:
    signed = timestamp.encode() + b"." + body
    return {SIGNATURE: "sha256=" + hex_hmac(secret, signed, "sha256"), TIMESTAMP: timestamp}


def verify(secret: str, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
    lower = lowered(headers)
    timestamp = lower.get(TIMESTAMP.lower(), "")
    if not timestamp.isdigit() or not fresh(timestamp, now):
        return False
    return same(lower.get(SIGNATURE.lower(), ""), sign(secret, body, timestamp)[SIGNATURE])
