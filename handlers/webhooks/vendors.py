"""Each configured helpdesk's API parts, built from settings: notes, own-write guard, credentials.

Credentials go only to the vendor's own download URLs on the origin the operator
configured (see `bot.attachments.credentials`):

- Zendesk: to `ZENDESK_URL` + `/attachments/token/…` (its `content_url`), never to
  the temporary download host that redirects to.
- Jira: to `JIRA_URL` + `/rest/api/{2,3}/attachment/content/…`, never to Atlassian's
  media host.
- Intercom: nowhere; attachment links on its CDN are signed.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bot.attachments.credentials import Credentials, NoCredentials, OriginCredentials
from bot.settings import Settings
from handlers.webhooks.notes import IntercomNotes, JiraNotes, NotePoster, ZendeskNotes
from handlers.webhooks.own_writes import HelpdeskApi, IntercomApi, JiraApi, ZendeskApi
from handlers.webhooks.signatures import Provider

# https://developer.zendesk.com/documentation/ticketing/managing-tickets/accessing-end-user-uploaded-attachments/
ZENDESK_DOWNLOAD_PATHS = ("/attachments/token/",)
# https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/#api-rest-api-3-attachment-content-id-get
JIRA_DOWNLOAD_PATHS = ("/rest/api/3/attachment/content/", "/rest/api/2/attachment/content/")


@dataclass
class Vendors:
    notes: dict[str, NotePoster] = field(default_factory=dict)
    helpdesks: dict[str, HelpdeskApi] = field(default_factory=dict)
    credentials: dict[str, Credentials] = field(default_factory=dict)

    def credentials_for(self, provider: Provider) -> Credentials:
        return self.credentials.get(provider.value, NoCredentials())


_Read = Callable[[Settings], object]

# The setting each webhook route is signed with (the route is on when it is set).
SECRET_SETTINGS: dict[Provider, tuple[str, _Read]] = {
    Provider.ZENDESK: ("ZENDESK_WEBHOOK_SECRET", lambda s: s.zendesk_webhook_secret),
    Provider.INTERCOM: ("INTERCOM_WEBHOOK_SECRET", lambda s: s.intercom_webhook_secret),
    Provider.JIRA: ("JIRA_WEBHOOK_SECRET", lambda s: s.jira_webhook_secret),
    Provider.GENERIC: ("GENERIC_WEBHOOK_SECRET", lambda s: s.generic_webhook_secret),
    Provider.JIRA_AUTOMATION: ("JIRA_AUTOMATION_SECRET", lambda s: s.jira_automation_secret),
}

# What a helpdesk's API needs before the bot can post notes there. The generic webhook has no
# API: its answers are read from `GET /jobs/{id}`.
API_SETTINGS: dict[Provider, tuple[tuple[str, _Read], ...]] = {
    Provider.ZENDESK: (
        ("ZENDESK_URL", lambda s: s.zendesk_url),
        ("ZENDESK_EMAIL", lambda s: s.zendesk_email),
        ("ZENDESK_API_TOKEN", lambda s: s.zendesk_api_token),
    ),
    Provider.INTERCOM: (
        ("INTERCOM_TOKEN", lambda s: s.intercom_token),
        ("INTERCOM_ADMIN_ID", lambda s: s.intercom_admin_id),
    ),
    Provider.JIRA: (
        ("JIRA_URL", lambda s: s.jira_url),
        ("JIRA_EMAIL", lambda s: s.jira_email),
        ("JIRA_API_TOKEN", lambda s: s.jira_api_token),
    ),
    Provider.GENERIC: (),
}


def missing_api_settings(settings: Settings, provider: Provider) -> tuple[str, ...]:
    """The settings still unset that `provider`'s helpdesk needs to post notes."""
    return tuple(name for name, read in API_SETTINGS[provider.helpdesk] if not read(settings))


def webhooks_without_notes(settings: Settings) -> dict[Provider, tuple[str, ...]]:
    """Each webhook route that is on while its helpdesk's API credentials are not all set:
    its tickets are diagnosed but no note can be posted."""
    return {
        provider: missing
        for provider, (_, read) in SECRET_SETTINGS.items()
        if read(settings) and (missing := missing_api_settings(settings, provider))
    }


def _basic(user: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def build_vendors(settings: Settings, client: httpx.AsyncClient) -> Vendors:
    """The API parts of every helpdesk whose credentials are configured."""
    vendors = Vendors()
    timeout = settings.helpdesk_timeout_seconds
    if zendesk := settings.zendesk_api():
        vendors.notes[Provider.ZENDESK] = ZendeskNotes(
            client,
            base_url=zendesk.base_url,
            email=zendesk.email,
            token=zendesk.token,
            timeout=timeout,
        )
        vendors.helpdesks[Provider.ZENDESK] = ZendeskApi(
            client, base_url=zendesk.base_url, email=zendesk.email, token=zendesk.token
        )
        vendors.credentials[Provider.ZENDESK] = OriginCredentials(
            zendesk.base_url,
            _basic(f"{zendesk.email}/token", zendesk.token),
            paths=ZENDESK_DOWNLOAD_PATHS,
        )
    if settings.intercom_token and settings.intercom_admin_id:
        token = settings.intercom_token.get_secret_value()
        vendors.notes[Provider.INTERCOM] = IntercomNotes(
            client,
            base_url=settings.intercom_url,
            token=token,
            admin_id=settings.intercom_admin_id,
            timeout=timeout,
        )
        vendors.helpdesks[Provider.INTERCOM] = IntercomApi(
            client, base_url=settings.intercom_url, token=token, admin_id=settings.intercom_admin_id
        )
    if jira := settings.jira_api():
        vendors.notes[Provider.JIRA] = JiraNotes(
            client, base_url=jira.base_url, email=jira.email, token=jira.token, timeout=timeout
        )
        vendors.helpdesks[Provider.JIRA] = JiraApi(
            client, base_url=jira.base_url, email=jira.email, token=jira.token
        )
        vendors.credentials[Provider.JIRA] = OriginCredentials(
            jira.base_url, _basic(jira.email, jira.token), paths=JIRA_DOWNLOAD_PATHS
        )
    return vendors
