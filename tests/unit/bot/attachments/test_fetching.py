from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.attachments.credentials import for_prefixes
from bot.attachments.fetching import HttpImageFetcher, LocalFileFetcher
from bot.conversation.turns import AttachmentRef, Screenshot, TextFile
from bot.engine.images import sniff_image_type
from bot.errors import AttachmentRefused, AttachmentUnreadable
from bot.messages import Message
from bot.safety.image_checks import validate_image
from bot.safety.url_policy import PrefixPolicy
from tests.support.fake_slack import LOGIN_PAGE
from tests.support.screenshots import render_error_screenshot

ALLOWED = "https://files.slack.com/"


@pytest.mark.parametrize(
    ("image_format", "media_type"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
    ],
)
def test_allowed_formats_are_recognised_by_their_bytes(image_format: str, media_type: str) -> None:
    data = render_error_screenshot(image_format=image_format)
    assert sniff_image_type(data[:16]) == media_type
    shot = validate_image("e", data, max_pixels=10**7)
    assert (shot.media_type, shot.width, shot.height) == (media_type, 640, 400)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (LOGIN_PAGE, Message.REASON_LOGIN_PAGE),
        (b"%PDF-1.7 not a screenshot", Message.REASON_NOT_AN_IMAGE),
    ],
)
def test_non_images_are_refused_with_the_reason(data: bytes, reason: Message) -> None:
    with pytest.raises(AttachmentRefused) as refused:
        validate_image("file.png", data, max_pixels=10**7)
    assert refused.value.reason is reason


def test_truncated_image_is_unreadable() -> None:
    data = render_error_screenshot()
    with pytest.raises(AttachmentUnreadable) as unreadable:
        validate_image("cut.png", data[: len(data) // 2], max_pixels=10**7)
    assert unreadable.value.reason is Message.REASON_CORRUPT


def test_image_over_the_pixel_cap_is_refused() -> None:
    with pytest.raises(AttachmentRefused) as refused:
        validate_image("big.png", render_error_screenshot(), max_pixels=1000)
    assert refused.value.reason is Message.REASON_TOO_MANY_PIXELS


def _fetcher(handler: httpx.MockTransport, *, max_bytes: int = 10**6) -> HttpImageFetcher:
    return HttpImageFetcher(
        client=httpx.AsyncClient(transport=handler),
        policy=PrefixPolicy([ALLOWED]),
        credentials=for_prefixes([ALLOWED], {"Authorization": "Bearer xoxb-1"}),
        max_bytes=max_bytes,
    )


async def test_download_sends_the_token_and_validates() -> None:
    seen: list[str] = []

    def files(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, content=render_error_screenshot())

    shot = await _fetcher(httpx.MockTransport(files)).fetch(
        AttachmentRef("e.png", f"{ALLOWED}F1/e.png")
    )
    assert isinstance(shot, Screenshot) and shot.width == 640
    assert seen == ["Bearer xoxb-1"]


async def test_url_outside_the_allowed_prefixes_is_never_requested() -> None:
    requested: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requested.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(record)
    with pytest.raises(AttachmentRefused) as refused:
        await _fetcher(transport).fetch(AttachmentRef("e.png", "https://evil.example/e.png"))
    assert refused.value.reason is Message.REASON_HOST_NOT_ALLOWED
    assert requested == []


async def test_redirect_to_another_host_is_refused_before_following() -> None:
    requested: list[str] = []

    def files(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"location": "https://evil.example/steal"})

    with pytest.raises(AttachmentRefused):
        await _fetcher(httpx.MockTransport(files)).fetch(
            AttachmentRef("e.png", f"{ALLOWED}F1/e.png")
        )
    assert requested == [f"{ALLOWED}F1/e.png"]


async def test_oversized_download_is_refused_while_streaming() -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, content=b"\x89PNG\r\n\x1a\n" + b"0" * 5000)
    )
    with pytest.raises(AttachmentRefused) as refused:
        await _fetcher(transport, max_bytes=2048).fetch(
            AttachmentRef("big.png", f"{ALLOWED}big.png")
        )
    assert refused.value.reason is Message.REASON_TOO_LARGE


async def test_http_error_status_is_a_download_failure() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(403))
    with pytest.raises(AttachmentUnreadable) as unreadable:
        await _fetcher(transport).fetch(AttachmentRef("e.png", f"{ALLOWED}e.png"))
    assert unreadable.value.values == {"detail": "HTTP 403"}


async def test_file_slack_would_not_share_is_not_downloaded() -> None:
    transport = httpx.MockTransport(lambda r: pytest.fail("must not download"))
    ref = AttachmentRef("hidden.png", "", unavailable=Message.REASON_NOT_SHARED)
    with pytest.raises(AttachmentRefused) as refused:
        await _fetcher(transport).fetch(ref)
    assert refused.value.reason is Message.REASON_NOT_SHARED


async def test_text_files_are_read_and_binaries_and_login_pages_refused(tmp_path: Path) -> None:
    fetcher = LocalFileFetcher(max_bytes=10**6)
    log = tmp_path / "npm-debug.log"
    log.write_bytes("npm ERR! 错误 EACCES\n".encode("gb18030"))
    page = tmp_path / "report.html"
    page.write_bytes(LOGIN_PAGE)
    disguised = tmp_path / "shot.png"
    disguised.write_bytes(LOGIN_PAGE)
    archive = tmp_path / "logs.zip"
    archive.write_bytes(b"PK\x03\x04" + bytes(64))

    read = await fetcher.fetch(AttachmentRef(log.name, str(log)))
    assert read == TextFile("npm-debug.log", "npm ERR! 错误 EACCES\n", "gb18030")
    assert isinstance(await fetcher.fetch(AttachmentRef(page.name, str(page))), TextFile)
    refusals = ((disguised, Message.REASON_LOGIN_PAGE), (archive, Message.REASON_NOT_AN_IMAGE))
    for path, reason in refusals:
        with pytest.raises(AttachmentRefused) as refused:
            await fetcher.fetch(AttachmentRef(path.name, str(path)))
        assert refused.value.reason is reason
