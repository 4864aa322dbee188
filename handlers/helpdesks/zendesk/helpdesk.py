"""Zendesk: routes, settings, API client, and the parts built on it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from bot.knowledge.sources.registry import VendorCredentials
from bot.settings import Settings
from handlers.helpdesks.base import (
    Connection,
    IdentityCheck,
    Notes,
    Parts,
    TestDelivery,
    basic_connection,
    download_credentials,
    test_id,
)
from handlers.helpdesks.zendesk import payload, signature
from handlers.helpdesks.zendesk.notes import ZendeskNoteFormat
from handlers.helpdesks.zendesk.own_writes import ZendeskApi
from handlers.helpdesks.zendesk.settings import ZendeskSettings
from handlers.webhooks.deliveries import header_id
from handlers.webhooks.helpdesk_api import Read, WebhookRoute
from handlers.webhooks.payloads import TicketEvent

NAME = "zendesk"

# Credentials go only to `ZENDESK_URL` + `/attachments/token/…` (its `content_url`), never to
# the temporary download host that redirects to.
# https://developer.zendesk.com/documentation/ticketing/managing-tickets/accessing-end-user-uploaded-attachments/
DOWNLOAD_PATHS = ("/attachments/token/",)


def _who(response: httpx.Response) -> str:
    user = response.json()["user"]
    if user.get("id") is None:  # Zendesk answers an anonymous user for no credentials
        raise ValueError("signed in as anonymous")
    return f"signed in as user {user['id']} ({user.get('role', 'unknown role')})"


class Zendesk:
    """API token auth: `{email}/token:{token}` as Basic credentials.
    https://developer.zendesk.com/api-reference/introduction/security-and-auth/#api-token
    """

    ticket_format = payload.TICKET_ID
    name = NAME
    settings_model = ZendeskSettings
    routes = (WebhookRoute(NAME, "ZENDESK_WEBHOOK_SECRET", lambda s: s.zendesk_webhook_secret),)
    api_settings: tuple[tuple[str, Read], ...] = (
        ("ZENDESK_URL", lambda s: s.zendesk_url),
        ("ZENDESK_EMAIL", lambda s: s.zendesk_email),
        ("ZENDESK_API_TOKEN", lambda s: s.zendesk_api_token),
    )

    def sign(self, route: str, secret: str, body: bytes, timestamp: str) -> dict[str, str]:
        return signature.sign(secret, body, timestamp)

    def verify(
        self, route: str, secret: str, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> bool:
        return signature.verify(secret, body, headers, now=now)

    def delivery_id(self, route: str, headers: Mapping[str, str], body: Any) -> str | None:
        return header_id(headers, signature.DELIVERY_ID)

    def test_delivery(self, route: str, ticket: str, text: str) -> TestDelivery:
        return TestDelivery(
            {"ticket": {"id": ticket, "latest_comment": {"body": text, "attachments": []}}},
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            {signature.DELIVERY_ID: test_id()},
        )

    def read(self, route: str, body: Any) -> TicketEvent:
        return payload.read(body)

    def _account(self, own: ZendeskSettings) -> VendorCredentials | None:
        # The API's address and the account the bot signs in as, when all three are set.
        if own.zendesk_url and own.zendesk_email and own.zendesk_api_token:
            token = own.zendesk_api_token.get_secret_value()
            return VendorCredentials(own.zendesk_url, own.zendesk_email, token)
        return None

    def connection(self, own: ZendeskSettings, settings: Settings) -> Connection | None:
        api = self._account(own)
        if api is None:
            return None
        return basic_connection(api.base_url, f"{api.email}/token", api.token, settings)

    def parts(self, client: httpx.AsyncClient, own: ZendeskSettings, settings: Settings) -> Parts:
        return Parts(
            notes=Notes(client, ZendeskNoteFormat()),
            guard=ZendeskApi(client),
            credentials=download_credentials(self.connection(own, settings), DOWNLOAD_PATHS),
        )

    def article_credentials(self, own: ZendeskSettings) -> dict[str, VendorCredentials]:
        api = self._account(own)
        return {"zendesk": api} if api is not None else {}

    def identity_check(self, own: ZendeskSettings) -> IdentityCheck:
        # https://developer.zendesk.com/api-reference/ticketing/users/users/#show-self
        return IdentityCheck(
            request=lambda client: client.get("/api/v2/users/me.json"),
            describe=_who,
            fix="check ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN",
        )
