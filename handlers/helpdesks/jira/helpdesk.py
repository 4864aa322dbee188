"""Jira Service Management: the webhook and the automation rule's route, settings, API client."""

from __future__ import annotations

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
    unix_now,
)
from handlers.helpdesks.jira import payload, signature
from handlers.helpdesks.jira.notes import JiraNoteFormat
from handlers.helpdesks.jira.own_writes import JiraApi
from handlers.helpdesks.jira.settings import JiraSettings
from handlers.webhooks.deliveries import header_id
from handlers.webhooks.helpdesk_api import Read, WebhookRoute
from handlers.webhooks.payloads import TicketEvent

NAME = "jira"
AUTOMATION = "jira-automation"  # the automation rule's "Send web request"

# Credentials go only to `JIRA_URL` + `/rest/api/{2,3}/attachment/content/…`, never to
# Atlassian's media host.
# https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/#api-rest-api-3-attachment-content-id-get
DOWNLOAD_PATHS = ("/rest/api/3/attachment/content/", "/rest/api/2/attachment/content/")


class Jira:
    """Basic auth with the account's email and an API token.
    https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
    """

    ticket_format = payload.TICKET_ID
    name = NAME
    settings_model = JiraSettings
    routes = (
        WebhookRoute(NAME, "JIRA_WEBHOOK_SECRET", lambda s: s.jira_webhook_secret),
        WebhookRoute(
            AUTOMATION,
            "JIRA_AUTOMATION_SECRET",
            lambda s: s.jira_automation_secret,
            token_only=True,
        ),
    )
    api_settings: tuple[tuple[str, Read], ...] = (
        ("JIRA_URL", lambda s: s.jira_url),
        ("JIRA_EMAIL", lambda s: s.jira_email),
        ("JIRA_API_TOKEN", lambda s: s.jira_api_token),
    )

    def sign(self, route: str, secret: str, body: bytes, timestamp: str) -> dict[str, str]:
        if route == AUTOMATION:
            return signature.automation_headers(secret, timestamp)
        return signature.sign(secret, body)

    def verify(
        self, route: str, secret: str, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> bool:
        if route == AUTOMATION:
            return signature.verify_automation(headers, secret, now=now)
        return signature.verify(secret, body, headers, now=now)

    def delivery_id(self, route: str, headers: Mapping[str, str], body: Any) -> str | None:
        # "Send web request" sends only what the admin typed: no delivery id.
        if route == AUTOMATION:
            return None
        return header_id(headers, signature.DELIVERY_ID)

    def test_delivery(self, route: str, ticket: str, text: str) -> TestDelivery:
        issue = {"key": ticket, "fields": {"summary": text}}
        if route == AUTOMATION:
            return TestDelivery({"issue": issue}, unix_now(), {})
        body = {"webhookEvent": "jira:issue_created", "issue": issue}
        return TestDelivery(body, unix_now(), {signature.DELIVERY_ID: test_id()})

    def read(self, route: str, body: Any) -> TicketEvent:
        if route == AUTOMATION:
            return payload.read_automation(body)
        return payload.read(body)

    def _account(self, own: JiraSettings) -> VendorCredentials | None:
        # The API's address and the account the bot signs in as, when all three are set.
        if own.jira_url and own.jira_email and own.jira_api_token:
            token = own.jira_api_token.get_secret_value()
            return VendorCredentials(own.jira_url, own.jira_email, token)
        return None

    def connection(self, own: JiraSettings, settings: Settings) -> Connection | None:
        api = self._account(own)
        if api is None:
            return None
        return basic_connection(api.base_url, api.email, api.token, settings)

    def parts(self, client: httpx.AsyncClient, own: JiraSettings, settings: Settings) -> Parts:
        return Parts(
            notes=Notes(client, JiraNoteFormat()),
            guard=JiraApi(client),
            credentials=download_credentials(self.connection(own, settings), DOWNLOAD_PATHS),
        )

    def article_credentials(self, own: JiraSettings) -> dict[str, VendorCredentials]:
        # Confluence signs in with JIRA_EMAIL and JIRA_API_TOKEN (one Atlassian account).
        api = self._account(own)
        return {"confluence": api} if api is not None else {}

    def identity_check(self, own: JiraSettings) -> IdentityCheck:
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/
        return IdentityCheck(
            request=lambda client: client.get("/rest/api/3/myself"),
            describe=lambda response: f"signed in as account {response.json()['accountId']}",
            fix="check JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN",
        )
