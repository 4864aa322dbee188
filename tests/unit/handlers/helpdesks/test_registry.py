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
from handlers.helpdesks.zendesk import Zendesk
from handlers.webhooks.helpdesk_api import WebhookRoute

SHARED = Settings(_env_file=None, helpdesk_timeout_seconds=7.5)
CONFIGURED = REGISTRY.settings(
    _env_file=None,
    zendesk_url="https://acme.zendesk.com/",
    zendesk_email="bot@acme.test",
    zendesk_api_token="zd",
    intercom_token="ic",
    intercom_admin_id="991",
    jira_url="https://acme.atlassian.net",
    jira_email="bot@acme.test",
    jira_api_token="jt",
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
    settings = REGISTRY.settings(
        _env_file=None, jira_automation_secret="a", generic_webhook_secret=""
    )
    assert REGISTRY.webhook_secrets(settings) == {"jira-automation": "a"}


async def test_one_client_per_vendor_with_its_base_url_auth_and_the_helpdesk_timeout() -> None:
    clients = HelpdeskClients.build(SHARED, CONFIGURED)
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
        vendors = build_vendors(SHARED, CONFIGURED, clients)
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


def test_each_helpdesk_reads_its_own_settings_by_the_same_env_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "ZENDESK_URL": "https://acme.zendesk.com",
        "ZENDESK_EMAIL": "bot@acme.test",
        "ZENDESK_API_TOKEN": "zd",
        "JIRA_AUTOMATION_SECRET": "auto",
        "INTERCOM_TOKEN": "ic",
    }.items():
        monkeypatch.setenv(name, value)
    desks = REGISTRY.settings(_env_file=None)
    assert REGISTRY.webhook_secrets(desks) == {"jira-automation": "auto"}
    assert REGISTRY.missing_api_settings(desks, "zendesk") == ()
    assert REGISTRY.missing_api_settings(desks, "intercom") == ("INTERCOM_ADMIN_ID",)
    # The knowledge sources reuse the accounts; Confluence is Jira's (unset here).
    credentials = REGISTRY.article_credentials(desks)
    assert set(credentials) == {"zendesk", "intercom"}
    assert credentials["zendesk"].email == "bot@acme.test"
    assert credentials["intercom"].base_url == "https://api.intercom.io"


def test_a_setting_no_helpdesk_has_is_refused_rather_than_ignored() -> None:
    with pytest.raises(TypeError, match="zendesk_urll"):
        REGISTRY.settings(_env_file=None, zendesk_urll="https://acme.zendesk.com")


def test_two_helpdesks_reading_one_setting_are_refused() -> None:
    # Each vendor's variables are its own; one read by two would configure both at once.
    class Twin(Zendesk):
        name = "twin"
        routes = (WebhookRoute("twin", "TWIN_WEBHOOK_SECRET", lambda s: None),)

    with pytest.raises(ValueError, match="same setting"):
        Registry((*HELPDESKS, Twin()))
