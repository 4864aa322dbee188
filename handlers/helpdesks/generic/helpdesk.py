"""The generic webhook: any tool that can send a signed JSON body. It has no API, so the bot
posts no note; the answer is read from `GET /jobs/{id}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.helpdesks.base import TestDelivery, WebhookOnly, unix_now
from handlers.helpdesks.generic import payload, signature
from handlers.helpdesks.generic.settings import GenericSettings
from handlers.webhooks.deliveries import header_id
from handlers.webhooks.helpdesk_api import WebhookRoute
from handlers.webhooks.payloads import TicketEvent

NAME = "generic"


class Generic(WebhookOnly):
    ticket_format = payload.TICKET_ID
    name = NAME
    settings_model = GenericSettings
    routes = (WebhookRoute(NAME, "GENERIC_WEBHOOK_SECRET", lambda s: s.generic_webhook_secret),)

    def sign(self, route: str, secret: str, body: bytes, timestamp: str) -> dict[str, str]:
        return signature.sign(secret, body, timestamp)

    def verify(
        self, route: str, secret: str, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> bool:
        return signature.verify(secret, body, headers, now=now)

    def delivery_id(self, route: str, headers: Mapping[str, str], body: Any) -> str | None:
        return header_id(headers, signature.DELIVERY_ID)

    def test_delivery(self, route: str, ticket: str, text: str) -> TestDelivery:
        return TestDelivery({"ticket_id": ticket, "text": text, "attachments": []}, unix_now(), {})

    def read(self, route: str, body: Any) -> TicketEvent:
        return payload.read(body)
