"""Intercom signs the body with HMAC-SHA1 of the app's client secret: `X-Hub-Signature: sha1=…`.
https://developers.intercom.com/docs/references/webhooks/webhook-models#signed-notifications
"""

from __future__ import annotations

from collections.abc import Mapping

from handlers.webhooks.signatures import hex_hmac, lowered, same

SIGNATURE = "X-Hub-Signature"


def sign(secret: str, body: bytes, timestamp: str = "") -> dict[str, str]:
    return {SIGNATURE: "sha1=" + hex_hmac(secret, body, "sha1")}


def verify(secret: str, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
    given = lowered(headers).get(SIGNATURE.lower(), "")
    return same(given, sign(secret, body)[SIGNATURE])
