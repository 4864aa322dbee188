"""Freshdesk's one setting, read from FRESHDESK_WEBHOOK_SECRET as a shipped vendor's are."""

from __future__ import annotations

from pydantic import SecretStr

from handlers.helpdesks.base import VendorSettings


class FreshdeskSettings(VendorSettings):
    # The value the rule's "Trigger webhook" action sends in its X-Freshdesk-Token header.
    freshdesk_webhook_secret: SecretStr | None = None
