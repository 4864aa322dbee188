"""Zendesk's settings: its webhook's signing secret and the API account notes are posted as."""

from __future__ import annotations

from pydantic import SecretStr

from handlers.helpdesks.base import AccountEmail, ApiBaseUrl, VendorSettings


class ZendeskSettings(VendorSettings):
    zendesk_webhook_secret: SecretStr | None = None
    zendesk_url: ApiBaseUrl | None = None
    zendesk_email: AccountEmail | None = None
    zendesk_api_token: SecretStr | None = None
