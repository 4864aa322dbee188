"""Zendesk's settings: its webhook's signing secret and the API account notes are posted as."""

from __future__ import annotations

from pydantic import SecretStr

from handlers.helpdesks.base import VendorSettings


class ZendeskSettings(VendorSettings):
    zendesk_webhook_secret: SecretStr | None = None
    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
