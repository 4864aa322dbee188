"""Every helpdesk the bot knows, in one list, and what is derived from it.

Adding a helpdesk: write its package (see docs/helpdesks.md, "Adding a helpdesk") and add
one line to `HELPDESKS`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.attachments.credentials import Credentials
from bot.settings import Settings
from handlers.helpdesks.base import NO_CREDENTIALS, Helpdesk, Read
from handlers.helpdesks.generic import Generic
from handlers.helpdesks.intercom import Intercom
from handlers.helpdesks.jira import Jira
from handlers.helpdesks.zendesk import Zendesk
from handlers.webhooks.helpdesk_api import HelpdeskApi, NotePoster
from handlers.webhooks.payloads import TicketEvent, UnreadableTicket
from handlers.webhooks.signatures import Provider

HELPDESKS: tuple[Helpdesk, ...] = (Zendesk(), Jira(), Intercom(), Generic())

BY_NAME: Mapping[Provider, Helpdesk] = {helpdesk.name: helpdesk for helpdesk in HELPDESKS}

# Each webhook route: the setting that signs it (the route is on when it is set).
SECRET_SETTINGS: Mapping[Provider, tuple[str, Read]] = {
    route: secret for helpdesk in HELPDESKS for route, secret in helpdesk.routes.items()
}


def helpdesk_of(route: Provider) -> Helpdesk:
    """The helpdesk whose API answers the tickets of webhook `route`."""
    return BY_NAME[route.helpdesk]


def ticket_id(route: Provider, value: object) -> str:
    """`value` as a ticket id of `route`'s helpdesk; raises `BadTicketId` otherwise."""
    return helpdesk_of(route).ticket_format.check(value)


def sign(route: Provider, secret: str, body: bytes, timestamp: str = "") -> dict[str, str]:
    """The headers `route`'s vendor would send with `body` (tests, `send-test`)."""
    return helpdesk_of(route).sign(route, secret, body, timestamp)


def verify(
    route: Provider,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
) -> bool:
    """Whether `headers` carry a valid, fresh signature of `body` for webhook `route`."""
    return helpdesk_of(route).verify(
        route, secret, body, headers, now=time.time() if now is None else now
    )


def delivery_id(route: Provider, headers: Mapping[str, str], body: Any) -> str | None:
    """The vendor's id of this delivery, or None when it sent none (or none usable)."""
    return helpdesk_of(route).delivery_id(route, headers, body)


class Inbound:
    """What the webhook routes ask the helpdesks (`handlers.webhooks.helpdesk_api.Inbound`)."""

    def verify(self, route: Provider, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        return verify(route, secret, body, headers)

    def parse(self, route: Provider, body: Any) -> TicketEvent:
        return parse(route, body)

    def delivery_id(self, route: Provider, headers: Mapping[str, str], body: Any) -> str | None:
        return delivery_id(route, headers, body)


def parse(route: Provider, body: Any) -> TicketEvent:
    """The ticket in a delivery to webhook `route`, read by its helpdesk.

    Raises:
        NotATicket: an event the bot does not answer (a status change, another topic).
        UnreadableTicket: an event for the bot whose body lacks a field it needs.
        BadTicketId: the ticket id is missing or not in its vendor's format.
    """
    try:
        return helpdesk_of(route).read(route, body)
    except (KeyError, TypeError, AttributeError) as error:
        # The models check each field the readers use; this is the last net for an odd value.
        raise UnreadableTicket(
            "a field", f"is malformed ({error})", shape="the body docs/helpdesks.md describes"
        ) from None


def webhook_secrets(settings: Settings) -> dict[Provider, str]:
    """The secret of every webhook route that is on."""
    secrets = {}
    for route, (_, read) in SECRET_SETTINGS.items():
        value = read(settings)
        secret = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if isinstance(secret, str) and secret:
            secrets[route] = secret
    return secrets


def missing_api_settings(settings: Settings, route: Provider) -> tuple[str, ...]:
    """The settings still unset that `route`'s helpdesk needs to post notes."""
    return tuple(name for name, read in helpdesk_of(route).api_settings if not read(settings))


def webhooks_without_notes(settings: Settings) -> dict[Provider, tuple[str, ...]]:
    """Each webhook route that is on while its helpdesk's API credentials are not all set:
    its tickets are diagnosed but no note can be posted."""
    return {
        route: missing
        for route in webhook_secrets(settings)
        if (missing := missing_api_settings(settings, route))
    }


@dataclass
class HelpdeskClients:
    """One configured API client per helpdesk whose credentials are set; closed together."""

    clients: dict[Provider, httpx.AsyncClient] = field(default_factory=dict)

    @classmethod
    def build(
        cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> HelpdeskClients:
        clients = {}
        for helpdesk in HELPDESKS:
            if (connection := helpdesk.connection(settings)) is not None:
                clients[helpdesk.name] = connection.client(transport)
        return cls(clients)

    def get(self, name: Provider) -> httpx.AsyncClient | None:
        return self.clients.get(name)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


@dataclass
class Vendors:
    """The runner's parts of every configured helpdesk, by its `provider` value."""

    notes: dict[str, NotePoster] = field(default_factory=dict)
    helpdesks: dict[str, HelpdeskApi] = field(default_factory=dict)
    credentials: dict[str, Credentials] = field(default_factory=dict)

    def credentials_for(self, provider: Provider) -> Credentials:
        return self.credentials.get(provider.value, NO_CREDENTIALS)


def build_vendors(settings: Settings, clients: HelpdeskClients) -> Vendors:
    """The note writer, own-write guard and download credentials of each configured helpdesk."""
    vendors = Vendors()
    for helpdesk in HELPDESKS:
        client = clients.get(helpdesk.name)
        if client is None:
            continue
        parts = helpdesk.parts(client, settings)
        vendors.notes[helpdesk.name.value] = parts.notes
        vendors.helpdesks[helpdesk.name.value] = parts.guard
        vendors.credentials[helpdesk.name.value] = parts.credentials
    return vendors
