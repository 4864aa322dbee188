"""The id each vendor gives a delivery, unchanged when it delivers the same event again.

- zendesk: the `X-Zendesk-Webhook-Invocation-Id` header
  https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request/
- jira: the `X-Atlassian-Webhook-Identifier` header, "unchanged across retries"
  https://developer.atlassian.com/cloud/jira/platform/webhooks/
- intercom: the notification's `id` in the body
  https://developers.intercom.com/docs/references/webhooks/webhook-models
- generic: the `X-Delivery-Id` header, if the sender sets one
- jira-automation: none ("Send web request" sends only what the admin typed)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.webhooks.signatures import Provider

# Longer is not an id any vendor sends; it is ignored rather than stored.
MAX_ID_LENGTH = 200

_HEADERS = {
    Provider.ZENDESK: "x-zendesk-webhook-invocation-id",
    Provider.JIRA: "x-atlassian-webhook-identifier",
    Provider.GENERIC: "x-delivery-id",
}


def delivery_id(provider: Provider, headers: Mapping[str, str], body: Any) -> str | None:
    """The vendor's id of this delivery, or None when it sent none (or none usable)."""
    if provider is Provider.INTERCOM:
        value = body.get("id") if isinstance(body, dict) else None
    elif header := _HEADERS.get(provider):
        value = {name.lower(): v for name, v in headers.items()}.get(header)
    else:
        value = None
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if 0 < len(value) <= MAX_ID_LENGTH else None
