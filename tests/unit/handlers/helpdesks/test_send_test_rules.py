from __future__ import annotations

import pytest

from bot.errors import ConfigError
from handlers.helpdesks.registry import REGISTRY
from handlers.helpdesks.send_test import check_url


def test_a_webhook_on_without_its_api_credentials_is_named_with_what_is_missing() -> None:
    settings = REGISTRY.settings(
        _env_file=None,
        zendesk_webhook_secret="zd",
        zendesk_url="https://acme.zendesk.com",
        jira_automation_secret="auto",
        intercom_webhook_secret="ic",
        intercom_token="tok",
        intercom_admin_id="991",
        generic_webhook_secret="gen",
    )
    assert REGISTRY.webhooks_without_notes(settings) == {
        "zendesk": ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN"),
        "jira-automation": ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN"),
    }
    assert REGISTRY.missing_api_settings(settings, "generic") == ()
    assert REGISTRY.missing_api_settings(settings, "intercom") == ()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3000",
        "http://localhost:3000/",
        "http://[::1]:3000",
        "http://127.8.0.1",
        "https://bot.example.com",
        "https://10.0.0.5:8443",
    ],
)
def test_send_test_goes_to_https_or_this_machine(url: str) -> None:
    check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://bot.example.com",
        "http://10.0.0.5:3000",
        "http://127.0.0.1.evil.example",
        "http://[::ffff:8.8.8.8]",
        "ftp://127.0.0.1",
        "127.0.0.1:3000",
    ],
)
def test_send_test_never_sends_its_secret_over_plain_http_to_another_machine(url: str) -> None:
    with pytest.raises(ConfigError):
        check_url(url)
