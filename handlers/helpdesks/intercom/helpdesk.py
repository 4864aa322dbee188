"""Intercom: its webhook route, settings, API client (token, pinned API version)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from bot.knowledge.sources.registry import VendorCredentials
from bot.settings import Settings
from handlers.helpdesks.base import (
    NO_CREDENTIALS,
    Connection,
    IdentityCheck,
    Notes,
    Parts,
    TestDelivery,
    test_id,
    unix_now,
)
from handlers.helpdesks.intercom import payload, signature
from handlers.helpdesks.intercom.notes import IntercomNoteFormat
from handlers.helpdesks.intercom.own_writes import IntercomApi
from handlers.helpdesks.intercom.settings import IntercomSettings
from handlers.webhooks.deliveries import usable_id
from handlers.webhooks.helpdesk_api import Read, WebhookRoute
from handlers.webhooks.payloads import TicketEvent

NAME = "intercom"

# Intercom answers in the API version the request names; unpinned, the app's default
# version (changeable in the Developer Hub) would decide the shape of every answer.
# https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/api-versioning
INTERCOM_VERSION = "2.11"


class Intercom:
    """Bearer token auth; attachment links on its CDN are signed, so no credentials go there."""

    ticket_format = payload.TICKET_ID
    name = NAME
    settings_model = IntercomSettings
    routes = (WebhookRoute(NAME, "INTERCOM_WEBHOOK_SECRET", lambda s: s.intercom_webhook_secret),)
    api_settings: tuple[tuple[str, Read], ...] = (
        ("INTERCOM_TOKEN", lambda s: s.intercom_token),
        ("INTERCOM_ADMIN_ID", lambda s: s.intercom_admin_id),
    )

    def sign(self, route: str, secret: str, body: bytes, timestamp: str) -> dict[str, str]:
        return signature.sign(secret, body)

    def verify(
        self, route: str, secret: str, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> bool:
        return signature.verify(secret, body, headers, now=now)

    def delivery_id(self, route: str, headers: Mapping[str, str], body: Any) -> str | None:
        # The notification's own `id`: https://developers.intercom.com/docs/references/webhooks/webhook-models
        return usable_id(body.get("id")) if isinstance(body, dict) else None

    def test_delivery(self, route: str, ticket: str, text: str) -> TestDelivery:
        body = {
            "type": "notification_event",
            "topic": "conversation.user.created",
            "id": f"notif_{test_id()}",
            "data": {"item": {"id": ticket, "source": {"body": f"<p>{text}</p>"}}},
        }
        return TestDelivery(body, unix_now(), {})

    def read(self, route: str, body: Any) -> TicketEvent:
        return payload.read(body)

    def connection(self, own: IntercomSettings, settings: Settings) -> Connection | None:
        if own.intercom_token is None or not own.intercom_admin_id:
            return None
        headers = {
            "Authorization": f"Bearer {own.intercom_token.get_secret_value()}",
            "Accept": "application/json",
            "Intercom-Version": INTERCOM_VERSION,
        }
        return Connection(own.intercom_url, headers, settings.helpdesk_timeout_seconds)

    def parts(self, client: httpx.AsyncClient, own: IntercomSettings, settings: Settings) -> Parts:
        admin = own.intercom_admin_id
        assert admin  # parts are built only for a configured API
        return Parts(
            notes=Notes(client, IntercomNoteFormat(admin)),
            guard=IntercomApi(client, admin_id=admin),
            credentials=NO_CREDENTIALS,
        )

    def article_credentials(self, own: IntercomSettings) -> dict[str, VendorCredentials]:
        if own.intercom_token is None:
            return {}
        token = own.intercom_token.get_secret_value()
        return {"intercom": VendorCredentials(own.intercom_url, "", token)}

    def identity_check(self, own: IntercomSettings) -> IdentityCheck:
        # Notes are posted as INTERCOM_ADMIN_ID, so that admin is what is checked:
        # https://developers.intercom.com/docs/references/2.5/rest-api/admins/view-an-admin
        admin = own.intercom_admin_id or ""
        return IdentityCheck(
            request=lambda client: client.get(f"/admins/{admin}"),
            describe=lambda response: f"notes go as admin {response.json()['name']}",
            fix="check INTERCOM_TOKEN and INTERCOM_ADMIN_ID",
        )
