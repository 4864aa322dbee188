"""Freshdesk as a webhook with no API: the automation rule sends a shared token in a custom
header (Freshdesk signs nothing), and the answer is read from `GET /jobs/{id}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.helpdesks.base import TestDelivery, WebhookOnly
from handlers.webhooks.helpdesk_api import WebhookRoute
from handlers.webhooks.payloads import TicketEvent
from handlers.webhooks.signatures import lowered, same
from tests.support.freshdesk import payload
from tests.support.freshdesk.settings import FreshdeskSettings

NAME = "freshdesk"
TOKEN = "X-Freshdesk-Token"  # a custom header of the rule's "Trigger webhook" action


class Freshdesk(WebhookOnly):
    """Its route's token is its own setting, read as every vendor's are."""

    ticket_format = payload.TICKET_ID
    name = NAME
    settings_model = FreshdeskSettings
    routes = (
        WebhookRoute(
            NAME,
            "FRESHDESK_WEBHOOK_SECRET",
            lambda s: s.freshdesk_webhook_secret,
            token_only=True,
        ),
    )

    def sign(self, route: str, secret: str, body: bytes, timestamp: str) -> dict[str, str]:
        return {TOKEN: secret}

    def verify(
        self, route: str, secret: str, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> bool:
        return same(lowered(headers).get(TOKEN.lower(), ""), secret)

    def delivery_id(self, route: str, headers: Mapping[str, str], body: Any) -> str | None:
        return None  # the action sends only what the admin typed

    def test_delivery(self, route: str, ticket: str, text: str) -> TestDelivery:
        body = {"freshdesk_webhook": {"ticket_id": ticket, "ticket_description": text}}
        return TestDelivery(body, "", {})

    def read(self, route: str, body: Any) -> TicketEvent:
        return payload.read(body)
