"""Helpdesk attachment URLs: configured hosts only, public addresses only, checked per hop."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.attachments.fetching import HttpImageFetcher
from bot.conversation.turns import AttachmentRef
from bot.errors import AttachmentRefused
from bot.messages import Message
from bot.safety.url_policy import IPAddress, PrefixPolicy, PublicHostPolicy, is_public
from tests.support.screenshots import render_error_screenshot
from tests.unit.bot.safety.search import examples

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


# Python 3.11's `is_global` alone lets several of these through; each is special-use in
# IANA's registries (https://www.iana.org/assignments/iana-ipv4-special-registry,
# https://www.iana.org/assignments/iana-ipv6-special-registry).
@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "2002:7f00:1::1",  # 6to4, embedding 127.0.0.1
        "2002:0808:0808::1",  # 6to4, whatever it embeds
        "fec0::1",  # deprecated site-local
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "64:ff9b:1::1",  # NAT64 local use
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "2001:db8::1",
        "192.0.0.8",
        "198.18.0.1",
        "240.0.0.1",
        "0.0.0.0",
        "::",
        "ff02::1",
        "::7f00:1",  # IPv4-compatible 127.0.0.1 (deprecated, RFC 4291 2.5.5.1)
        "::127.0.0.1",
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
        "::8.8.8.8",  # IPv4-compatible, whatever it carries
        "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1 (RFC 2765)
    ],
)
def test_only_globally_reachable_addresses_are_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["104.16.51.111", "8.8.8.8", "2606:4700::6810:3f6f", "::ffff:8.8.8.8"]
)
def test_public_addresses_stay_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


SLACK_FILES = "https://files.slack.com/files-pri/"


@pytest.mark.parametrize(
    "url",
    [
        "https://files.slack.com/files-pri/../api/auth.test",
        "https://files.slack.com/files-pri/T1-F1/../../api/auth.test",
        "https://files.slack.com/files-pri/%2e%2e/api/auth.test",
        "https://files.slack.com/files-pri/%2E%2E%2Fapi/auth.test",
        "https://files.slack.com/files-pri/..%5capi/auth.test",
        "https://files.slack.com/files-pri\\..\\api/auth.test",
        "https://files.slack.com/files-pri/T1-F1/a.png\r\nX-Injected: 1",
        "https://files.slack.com/files-pri/T1-F1/a b.png",
        "https://files.slack.com@evil.example/files-pri/T1-F1/a.png",
        "https://user@files.slack.com/files-pri/T1-F1/a.png",
        "http://files.slack.com/files-pri/T1-F1/a.png",
        "http://[::1",
        "",
    ],
)
async def test_the_slack_files_prefix_cannot_be_escaped(url: str) -> None:
    assert not await PrefixPolicy([SLACK_FILES]).allows(url)


async def test_a_plain_file_url_under_the_prefix_is_allowed() -> None:
    policy = PrefixPolicy([SLACK_FILES])
    assert await policy.allows("https://files.slack.com/files-pri/T1-F1/err%20shot.png")
    assert await policy.allows("https://files.slack.com/files-pri/T1-F1/a.png?t=xoxe-1")


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(
        st.sampled_from(["..", ".", "%2e%2e", "%2E.", ".%2e", "a", "T1-F1", "%2f", "\\"]),
        min_size=1,
        max_size=6,
    )
)
async def test_whatever_the_path_the_request_stays_under_the_prefix(segments: list[str]) -> None:
    url = SLACK_FILES + "/".join(segments) + "/x.png"
    if await PrefixPolicy([SLACK_FILES]).allows(url):
        assert str(httpx.URL(url)).startswith(SLACK_FILES)
        assert "%2e" not in url.lower() and ".." not in httpx.URL(url).path


async def test_a_broken_attachment_url_is_refused_not_raised() -> None:
    assert not await _policy().allows("http://[::1")
    assert not await _policy().allows("https://files.acme.zendesk.com/a.png\nHost: x")
