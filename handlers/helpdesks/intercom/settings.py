"""Intercom's settings: its webhook's secret, the API token and the admin notes are posted as."""

from __future__ import annotations

from pydantic import SecretStr

from handlers.helpdesks.base import ApiBaseUrl, VendorSettings


class IntercomSettings(VendorSettings):
    intercom_webhook_secret: SecretStr | None = None
    intercom_url: ApiBaseUrl = "https://api.intercom.io"
    intercom_token: SecretStr | None = None
    intercom_admin_id: str | None = None
