from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.attachments.credentials import OriginCredentials, for_prefixes
from bot.attachments.fetching import HttpImageFetcher
from bot.conversation.turns import AttachmentRef, Screenshot
from bot.safety.url_policy import PublicHostPolicy
from tests.support.screenshots import render_error_screenshot

AUTH = {"Authorization": "Basic c2VjcmV0"}
ZENDESK = OriginCredentials("https://acme.zendesk.com", AUTH, paths=("/attachments/token/",))


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.zendesk.com/attachments/token/abc/?name=a.png",
        "https://ACME.zendesk.com:443/attachments/token/abc/",
        "https://acme.zendesk.com/x/../attachments/token/abc/",  # resolved as the server would
    ],
)
def test_the_vendors_own_download_url_gets_the_credentials(url: str) -> None:
    assert ZENDESK.headers_for(httpx.URL(url)) == AUTH


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.zdusercontent.com/attachments/token/abc/",  # the download host
        "https://acme.zendesk.com.evil.example/attachments/token/abc/",
        "http://acme.zendesk.com/attachments/token/abc/",  # another scheme
        "https://acme.zendesk.com:8443/attachments/token/abc/",  # another port
        "https://acme.zendesk.com/api/v2/users/me.json",  # the API, not a download
        "https://acme.zendesk.com/attachments/token/%2e%2e/%2e%2e/api/v2/users/me.json",
        "https://acme.zendesk.com/attachments/token/..%2f..%2fapi/v2/users/me.json",
        "https://u:p@acme.zendesk.com/attachments/token/abc/",
    ],
)
def test_anywhere_else_gets_nothing(url: str) -> None:
    assert ZENDESK.headers_for(httpx.URL(url)) == {}


@given(
    st.from_regex(r"https?://[a-z0-9.-]{1,30}(:[0-9]{1,5})?/[a-zA-Z0-9/._%-]{0,40}", fullmatch=True)
)
def test_only_the_exact_origin_and_download_path_get_credentials(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return
    if ZENDESK.headers_for(parsed):
        assert parsed.host == "acme.zendesk.com" and parsed.scheme == "https"
        assert parsed.port in {None, 443} and parsed.path.startswith("/attachments/token/")


def test_slack_prefixes_keep_the_token_on_slack() -> None:
    slack = for_prefixes(["https://files.slack.com/"], {"Authorization": "Bearer x"})
    assert slack.headers_for(httpx.URL("https://files.slack.com/files-pri/T1/a.png"))
    assert not slack.headers_for(httpx.URL("https://files.slack.com.evil.example/a.png"))


async def test_a_redirect_to_the_vendors_file_host_is_followed_without_the_credentials() -> None:
    seen: dict[str, str | None] = {}

    def server(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("authorization")
        if request.url.host == "acme.zendesk.com":
            location = "https://acme.zdusercontent.com/attachment/1?token=t"
            return httpx.Response(302, headers={"location": location})
        return httpx.Response(200, content=render_error_screenshot())

    async def public(host: str) -> list[object]:
        import ipaddress

        return [ipaddress.ip_address("93.184.216.34")]

    fetcher = HttpImageFetcher(
        client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        policy=PublicHostPolicy(["zendesk.com", "zdusercontent.com"], resolver=public),  # type: ignore[arg-type]
        credentials=ZENDESK,
        max_bytes=10**6,
    )
    shot = await fetcher.fetch(
        AttachmentRef("a.png", "https://acme.zendesk.com/attachments/token/abc/?name=a.png")
    )
    assert isinstance(shot, Screenshot) and shot.width == 640
    assert seen == {"acme.zendesk.com": AUTH["Authorization"], "acme.zdusercontent.com": None}
