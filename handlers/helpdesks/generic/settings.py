"""The generic webhook's one setting: the secret its deliveries are signed with."""

from __future__ import annotations

from pydantic import SecretStr

from handlers.helpdesks.base import VendorSettings


class GenericSettings(VendorSettings):
    generic_webhook_secret: SecretStr | None = None
