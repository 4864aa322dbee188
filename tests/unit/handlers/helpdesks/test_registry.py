from __future__ import annotations

import base64

import httpx

from bot.settings import Settings
from handlers.helpdesks.base import basic_authorization
from handlers.helpdesks.registry import (
    BY_NAME,
    HELPDESKS,
    SECRET_SETTINGS,
    HelpdeskClients,
    build_vendors,
    helpdesk_of,
    webhook_secrets,
)
from handlers.webhooks.signatures import Provider

CONFIGURED = Settings(
    _env_file=None,
    zendesk_url="https://acme.zendesk.com/",
    zendesk_email="bot@acme.test",
    zendesk_api_token="zd",
    intercom_token="ic",
    intercom_admin_id="991",
    jira_url="https://acme.atlassian.net",
    jira_email="bot@acme.test",
    jira_api_token="jt",
    helpdesk_timeout_seconds=7.5,
)


def test_every_webhook_route_belongs_to_exactly_one_helpdesk() -> None:
    assert set(SECRET_SETTINGS) == set(Provider)
    assert sorted(h.name for h in HELPDESKS) == sorted({p.helpdesk for p in Provider})
    assert helpdesk_of(Provider.JIRA_AUTOMATION) is BY_NAME[Provider.JIRA]


def test_webhook_secrets_are_the_routes_that_are_on() -> None:
    settings = Settings(_env_file=None, jira_automation_secret="a", generic_webhook_secret="")
    assert webhook_secrets(settings) == {Provider.JIRA_AUTOMATION: "a"}


async def test_one_client_per_vendor_with_its_base_url_auth_and_the_helpdesk_timeout() -> None:
    clients = HelpdeskClients.build(CONFIGURED)
    try:
        assert set(clients.clients) == {Provider.ZENDESK, Provider.INTERCOM, Provider.JIRA}
        zendesk = clients.clients[Provider.ZENDESK]
        assert zendesk.base_url == httpx.URL("https://acme.zendesk.com")
        # Every call, own-write checks included, keeps HELPDESK_TIMEOUT_SECONDS.
        for client in clients.clients.values():
            assert client.timeout == httpx.Timeout(7.5)
        expected = "Basic " + base64.b64encode(b"bot@acme.test/token:zd").decode()
        assert zendesk.headers["authorization"] == expected
        assert clients.clients[Provider.INTERCOM].headers["intercom-version"] == "2.11"
        vendors = build_vendors(CONFIGURED, clients)
        assert set(vendors.notes) == set(vendors.helpdesks) == {"zendesk", "intercom", "jira"}
        download = httpx.URL("https://acme.zendesk.com/attachments/token/abc/?name=a.png")
        assert vendors.credentials_for(Provider.ZENDESK).headers_for(download) == {
            "Authorization": expected
        }
        assert vendors.credentials_for(Provider.INTERCOM).headers_for(download) == {}
    finally:
        await clients.aclose()


def test_basic_auth_is_built_as_httpx_builds_it() -> None:
    request = httpx.Request("GET", "https://x.test")
    header = next(httpx.BasicAuth("a@b.test", "t:ok").auth_flow(request)).headers["authorization"]
    assert basic_authorization("a@b.test", "t:ok") == header
