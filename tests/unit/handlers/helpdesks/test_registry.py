from __future__ import annotations

import base64

import httpx
import pytest

from bot.settings import Settings
from handlers.helpdesks.base import basic_authorization
from handlers.helpdesks.registry import (
    HELPDESKS,
    REGISTRY,
    HelpdeskClients,
    Registry,
    build_vendors,
)

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
    # The stored route names (job ids, delivery keys, URLs) and the helpdesks they belong to.
    assert {route: REGISTRY.helpdesk_name(route) for route in REGISTRY.routes} == {
        "zendesk": "zendesk",
        "jira": "jira",
        "jira-automation": "jira",
        "intercom": "intercom",
        "generic": "generic",
    }
    assert sorted(h.name for h in HELPDESKS) == sorted(set(REGISTRY.by_name))
    assert REGISTRY.helpdesk_of("jira-automation") is REGISTRY.by_name["jira"]
    assert [r for r, route in REGISTRY.routes.items() if route.token_only] == ["jira-automation"]


def test_a_helpdesk_given_twice_is_refused() -> None:
    # Its routes would shadow each other, and its jobs could not be told apart.
    with pytest.raises(ValueError, match="share a name"):
        Registry((*HELPDESKS, HELPDESKS[0]))


def test_webhook_secrets_are_the_routes_that_are_on() -> None:
    settings = Settings(_env_file=None, jira_automation_secret="a", generic_webhook_secret="")
    assert REGISTRY.webhook_secrets(settings) == {"jira-automation": "a"}


async def test_one_client_per_vendor_with_its_base_url_auth_and_the_helpdesk_timeout() -> None:
    clients = HelpdeskClients.build(CONFIGURED)
    try:
        assert set(clients.clients) == {"zendesk", "intercom", "jira"}
        zendesk = clients.clients["zendesk"]
        assert zendesk.base_url == httpx.URL("https://acme.zendesk.com")
        # Every call, own-write checks included, keeps HELPDESK_TIMEOUT_SECONDS.
        for client in clients.clients.values():
            assert client.timeout == httpx.Timeout(7.5)
        expected = "Basic " + base64.b64encode(b"bot@acme.test/token:zd").decode()
        assert zendesk.headers["authorization"] == expected
        assert clients.clients["intercom"].headers["intercom-version"] == "2.11"
        vendors = build_vendors(CONFIGURED, clients)
        assert set(vendors.notes) == set(vendors.helpdesks) == {"zendesk", "intercom", "jira"}
        download = httpx.URL("https://acme.zendesk.com/attachments/token/abc/?name=a.png")
        assert vendors.credentials_for("zendesk").headers_for(download) == {
            "Authorization": expected
        }
        assert vendors.credentials_for("intercom").headers_for(download) == {}
    finally:
        await clients.aclose()


def test_basic_auth_is_built_as_httpx_builds_it() -> None:
    request = httpx.Request("GET", "https://x.test")
    header = next(httpx.BasicAuth("a@b.test", "t:ok").auth_flow(request)).headers["authorization"]
    assert basic_authorization("a@b.test", "t:ok") == header
