"""Helpdesk attachment URLs: configured hosts only, public addresses only, checked per hop."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from bot.attachments.fetching import HttpImageFetcher
from bot.conversation.turns import AttachmentRef
from bot.errors import AttachmentRefused
from bot.messages import Message
from bot.safety.url_policy import IPAddress, PublicHostPolicy
from tests.support.screenshots import render_error_screenshot

ADDRESSES = {
    "files.acme.zendesk.com": ["104.16.51.111"],
    "internal.acme.zendesk.com": ["10.0.0.5"],
    "meta.acme.zendesk.com": ["169.254.169.254"],
    "loop.acme.zendesk.com": ["127.0.0.1"],
    "mixed.acme.zendesk.com": ["104.16.51.111", "192.168.1.9"],
    "v6.acme.zendesk.com": ["fd00:ec2::254"],
    "jira.corp": ["10.20.30.40"],
}


async def fake_dns(host: str) -> list[IPAddress]:
    """A resolver with fixed answers: the policy's real input, without the network."""
    return [ipaddress.ip_address(a) for a in ADDRESSES[host]]


def _policy(**kwargs: object) -> PublicHostPolicy:
    return PublicHostPolicy(["acme.zendesk.com", "jira.corp"], resolver=fake_dns, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.acme.zendesk.com/a.png", True),
        ("https://internal.acme.zendesk.com/a.png", False),
        ("https://meta.acme.zendesk.com/latest/meta-data", False),
        ("https://loop.acme.zendesk.com/a.png", False),
        ("https://mixed.acme.zendesk.com/a.png", False),
        ("https://v6.acme.zendesk.com/a.png", False),
        ("https://evil.example/a.png", False),
        ("ftp://files.acme.zendesk.com/a.png", False),
        ("https://user:pw@files.acme.zendesk.com/a.png", False),
        ("https://jira.corp/secure/attachment/1/a.png", False),
    ],
)
async def test_only_configured_hosts_on_public_addresses(url: str, allowed: bool) -> None:
    assert await _policy().allows(url) is allowed


async def test_an_operator_can_trust_a_private_network() -> None:
    policy = _policy(allowed_networks=[ipaddress.ip_network("10.20.0.0/16")])
    assert await policy.allows("https://jira.corp/secure/attachment/1/a.png")
    assert not await policy.allows("https://internal.acme.zendesk.com/a.png")


async def test_a_redirect_to_a_private_address_is_refused_before_it_is_followed() -> None:
    requested: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if request.url.host == "files.acme.zendesk.com":
            return httpx.Response(302, headers={"location": "https://meta.acme.zendesk.com/x"})
        return httpx.Response(200, content=render_error_screenshot())

    fetcher = HttpImageFetcher(
        client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        policy=_policy(),
        max_bytes=10**6,
    )
    with pytest.raises(AttachmentRefused) as refused:
        await fetcher.fetch(AttachmentRef("a.png", "https://files.acme.zendesk.com/a.png"))
    assert refused.value.reason is Message.REASON_HOST_NOT_ALLOWED
    assert requested == ["https://files.acme.zendesk.com/a.png"]
