"""Every helpdesk the bot knows, in one list, and what is derived from it.

Adding a helpdesk: write its package (see docs/architecture.md, "Adding a helpdesk") and
add it to `HELPDESKS`. Its routes, its settings, their secrets, its API client and its
`doctor` check are read from here; nothing else names a vendor.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.attachments.credentials import Credentials
from bot.knowledge.sources.registry import VendorCredentials
from bot.settings import Settings, read_model
from handlers.helpdesks.base import NO_CREDENTIALS, Helpdesk, VendorSettings
from handlers.helpdesks.generic import Generic
from handlers.helpdesks.intercom import Intercom
from handlers.helpdesks.jira import Jira
from handlers.helpdesks.zendesk import Zendesk
from handlers.webhooks.helpdesk_api import HelpdeskApi, NotePoster, WebhookRoute
from handlers.webhooks.payloads import TicketEvent, UnreadableTicket

HELPDESKS: tuple[Helpdesk[Any], ...] = (Zendesk(), Jira(), Intercom(), Generic())

HelpdeskSettings = Mapping[str, VendorSettings]
"""Each helpdesk's own settings, by its name (`Registry.settings`, `Registry.read_settings`)."""


class Registry:
    """Helpdesks and their webhook routes, looked up by name; implements the webhook core's
    `Inbound`. The bot uses `REGISTRY`; a test or another deployment may build its own."""

    def __init__(self, helpdesks: Iterable[Helpdesk[Any]]) -> None:
        self.helpdesks = tuple(helpdesks)
        self.by_name: Mapping[str, Helpdesk[Any]] = {h.name: h for h in self.helpdesks}
        self.routes: Mapping[str, WebhookRoute] = {
            route.name: route for helpdesk in self.helpdesks for route in helpdesk.routes
        }
        self._owner = {route.name: h for h in self.helpdesks for route in h.routes}
        # A name given twice would shadow a vendor's route, or mix two vendors' jobs.
        if len(self.by_name) != len(self.helpdesks):
            raise ValueError("two helpdesks share a name")
        if len(self.routes) != sum(len(h.routes) for h in self.helpdesks):
            raise ValueError("two webhook routes share a name")
        self._field_owner = {
            field: h.name for h in self.helpdesks for field in h.settings_model.model_fields
        }
        if len(self._field_owner) != sum(
            len(h.settings_model.model_fields) for h in self.helpdesks
        ):
            raise ValueError("two helpdesks read the same setting")

    @property
    def setting_fields(self) -> frozenset[str]:
        """The field names of every helpdesk's settings (ZENDESK_URL is `zendesk_url`)."""
        return frozenset(self._field_owner)

    def settings(self, **values: Any) -> dict[str, VendorSettings]:
        """Each helpdesk's settings, from the environment with `values` winning (as arguments
        to `Settings` do); `_env_file` goes to all. Raises `ValidationError` on a bad value and
        `TypeError` on a field no helpdesk has."""
        shared = {key: values.pop(key) for key in [k for k in values if k.startswith("_")]}
        unknown = set(values) - self._field_owner.keys()
        if unknown:
            raise TypeError(f"no helpdesk has the settings {sorted(unknown)}")
        return {
            h.name: h.settings_model(
                **shared, **{k: v for k, v in values.items() if self._field_owner[k] == h.name}
            )
            for h in self.helpdesks
        }

    def read_settings(self) -> tuple[dict[str, VendorSettings] | None, list[str]]:
        """Each helpdesk's settings from the environment, and one line per invalid one (in
        `load_settings`'s words); None when any is invalid."""
        found: dict[str, VendorSettings] = {}
        problems: list[str] = []
        for helpdesk in self.helpdesks:
            own, invalid = read_model(helpdesk.settings_model)
            problems += invalid
            if own is not None:
                found[helpdesk.name] = own
        return (None if problems else found), problems

    def route(self, name: str) -> WebhookRoute | None:
        return self.routes.get(name)

    def helpdesk_of(self, route: str) -> Helpdesk[Any]:
        """The helpdesk whose API answers the tickets of webhook `route`."""
        return self._owner[route]

    def helpdesk_name(self, route: str) -> str:
        return self.helpdesk_of(route).name

    def ticket_id(self, route: str, value: object) -> str:
        """`value` as a ticket id of `route`'s helpdesk; raises `BadTicketId` otherwise."""
        return self.helpdesk_of(route).ticket_format.check(value)

    def sign(self, route: str, secret: str, body: bytes, timestamp: str = "") -> dict[str, str]:
        """The headers `route`'s vendor would send with `body` (tests, `send-test`)."""
        return self.helpdesk_of(route).sign(route, secret, body, timestamp)

    def verify(
        self,
        route: str,
        secret: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        now: float | None = None,
    ) -> bool:
        """Whether `headers` carry a valid, fresh signature of `body` for webhook `route`."""
        return self.helpdesk_of(route).verify(
            route, secret, body, headers, now=time.time() if now is None else now
        )

    def delivery_id(self, route: str, headers: Mapping[str, str], body: Any) -> str | None:
        """The vendor's id of this delivery, or None when it sent none (or none usable)."""
        return self.helpdesk_of(route).delivery_id(route, headers, body)

    def parse(self, route: str, body: Any) -> TicketEvent:
        """The ticket in a delivery to webhook `route`, read by its helpdesk.

        Raises:
            NotATicket: an event the bot does not answer (a status change, another topic).
            UnreadableTicket: an event for the bot whose body lacks a field it needs.
            BadTicketId: the ticket id is missing or not in its vendor's format.
        """
        try:
            return self.helpdesk_of(route).read(route, body)
        except (KeyError, TypeError, AttributeError) as error:
            # The models check each field the readers use; this is the last net for an odd value.
            raise UnreadableTicket(
                "a field", f"is malformed ({error})", shape="the body docs/helpdesks.md describes"
            ) from None

    def webhook_secrets(self, desks: HelpdeskSettings) -> dict[str, str]:
        """The secret of every webhook route that is on."""
        secrets = {}
        for name, route in self.routes.items():
            value = route.read(desks[self._owner[name].name])
            secret = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            if isinstance(secret, str) and secret:
                secrets[name] = secret
        return secrets

    def missing_api_settings(self, desks: HelpdeskSettings, route: str) -> tuple[str, ...]:
        """The settings still unset that `route`'s helpdesk needs to post notes."""
        helpdesk = self.helpdesk_of(route)
        own = desks[helpdesk.name]
        return tuple(name for name, read in helpdesk.api_settings if not read(own))

    def webhooks_without_notes(self, desks: HelpdeskSettings) -> dict[str, tuple[str, ...]]:
        """Each webhook route that is on while its helpdesk's API credentials are not all set:
        its tickets are diagnosed but no note can be posted."""
        return {
            route: missing
            for route in self.webhook_secrets(desks)
            if (missing := self.missing_api_settings(desks, route))
        }

    def article_credentials(self, desks: HelpdeskSettings) -> dict[str, VendorCredentials]:
        """The helpdesk accounts the settings hold, for the vendors' knowledge sources."""
        found: dict[str, VendorCredentials] = {}
        for helpdesk in self.helpdesks:
            found |= helpdesk.article_credentials(desks[helpdesk.name])
        return found


REGISTRY = Registry(HELPDESKS)


@dataclass
class HelpdeskClients:
    """One configured API client per helpdesk whose credentials are set; closed together."""

    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: Settings,
        desks: HelpdeskSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        registry: Registry = REGISTRY,
    ) -> HelpdeskClients:
        clients = {}
        for helpdesk in registry.helpdesks:
            own = desks[helpdesk.name]
            if (connection := helpdesk.connection(own, settings)) is not None:
                clients[helpdesk.name] = connection.client(transport)
        return cls(clients)

    def get(self, name: str) -> httpx.AsyncClient | None:
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

    def credentials_for(self, helpdesk: str) -> Credentials:
        return self.credentials.get(helpdesk, NO_CREDENTIALS)


def build_vendors(
    settings: Settings,
    desks: HelpdeskSettings,
    clients: HelpdeskClients,
    registry: Registry = REGISTRY,
) -> Vendors:
    """The note writer, own-write guard and download credentials of each configured helpdesk."""
    vendors = Vendors()
    for helpdesk in registry.helpdesks:
        client = clients.get(helpdesk.name)
        if client is None:
            continue
        parts = helpdesk.parts(client, desks[helpdesk.name], settings)
        vendors.notes[helpdesk.name] = parts.notes
        vendors.helpdesks[helpdesk.name] = parts.guard
        vendors.credentials[helpdesk.name] = parts.credentials
    return vendors
