"""Download screenshots and make sure they really are images worth showing the model.

Slack answers a bot without the `files:read` scope with an HTML login page and a
200, so the bytes are checked, never the declared type.
"""

from __future__ import annotations

import asyncio
import io
import logging
import struct
import warnings
from pathlib import Path
from typing import Protocol

import httpx
from PIL import Image

from bot.engine.images import sniff_image_type, to_model_rgb
from bot.errors import AttachmentRefused, AttachmentUnreadable
from bot.messages import Message
from bot.turns import AttachmentRef, Screenshot
from bot.url_policy import UrlPolicy
from bot.virus_scan import ScannerUnavailable, VirusScanner

log = logging.getLogger(__name__)

_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class AttachmentFetcher(Protocol):
    async def fetch(self, attachment: AttachmentRef) -> Screenshot:
        """Download and validate one attachment; raises `AttachmentError` with the reason."""
        ...


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def validate_image(filename: str, data: bytes, *, max_pixels: int) -> Screenshot:
    """Check the bytes decode to a whole image no larger than `max_pixels`.

    The image is decoded and normalised exactly as the engine will, so a file
    that would fail there is refused here, with its reason.

    Raises:
        AttachmentRefused: not an allowed image type, or too many pixels.
        AttachmentUnreadable: damaged or truncated.
    """
    media_type = sniff_image_type(data[:16])
    if media_type is None:
        reason = (
            Message.REASON_LOGIN_PAGE
            if _looks_like_html(data[:512])
            else Message.REASON_NOT_AN_IMAGE
        )
        raise AttachmentRefused(filename, reason)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its two bomb limits; a warning is a refusal here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise AttachmentRefused(
                        filename, Message.REASON_TOO_MANY_PIXELS, pixels=width * height
                    )
                image.load()  # decodes fully: truncated files fail here, not in the engine
                to_model_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AttachmentRefused(
            filename, Message.REASON_TOO_MANY_PIXELS, pixels="too many"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as error:
        raise AttachmentUnreadable(filename, Message.REASON_CORRUPT) from error
    return Screenshot(
        filename=filename, media_type=media_type, data=data, width=width, height=height
    )


class ImageInspector:
    """Everything between downloaded bytes and a usable screenshot: virus scan, then decode.

    Args:
        max_pixels: images with more pixels are refused before decoding (bomb guard).
        scanner: clamd, when configured; files are scanned before they are decoded.
        fail_open: when the scanner is down, open files anyway (True) or refuse them.
    """

    def __init__(
        self,
        *,
        max_pixels: int = 50_000_000,
        scanner: VirusScanner | None = None,
        fail_open: bool = False,
    ) -> None:
        self._max_pixels = max_pixels
        self._scanner = scanner
        self._fail_open = fail_open

    async def inspect(self, filename: str, data: bytes) -> Screenshot:
        if self._scanner is not None:
            await self._scan(filename, data)
        return await asyncio.to_thread(validate_image, filename, data, max_pixels=self._max_pixels)

    async def _scan(self, filename: str, data: bytes) -> None:
        assert self._scanner is not None
        try:
            result = await self._scanner.scan(data)
        except ScannerUnavailable as error:
            if self._fail_open:
                log.warning("virus scanner down, opening %s unscanned: %s", filename, error)
                return
            log.error("virus scanner down, refusing %s: %s", filename, error)
            raise AttachmentRefused(filename, Message.REASON_SCAN_UNAVAILABLE) from error
        if not result.clean:
            log.warning("virus scanner flagged %s: %s", filename, result.signature)
            raise AttachmentRefused(filename, Message.REASON_INFECTED)


def too_large(filename: str, max_bytes: int) -> AttachmentRefused:
    """The refusal for a file over `max_bytes`, naming the limit in MB."""
    return AttachmentRefused(
        filename, Message.REASON_TOO_LARGE, limit_mb=f"{max_bytes / 1024 / 1024:g}"
    )


class HttpImageFetcher:
    """Fetches images over HTTP, only from URLs its policy allows, redirects included.

    Args:
        client: the httpx client to use (its transport decides where requests go).
        policy: checked before the first request and every redirect, so credentials
            never reach another host.
        headers: sent with every request (Slack's bearer token, a helpdesk's auth).
        max_bytes: downloads stop and are refused past this size.
        inspector: scans and decodes what was downloaded.
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        policy: UrlPolicy,
        headers: dict[str, str] | None = None,
        max_bytes: int,
        inspector: ImageInspector | None = None,
    ) -> None:
        self._client = client
        self._policy = policy
        self._headers = headers or {}
        self._max_bytes = max_bytes
        self._inspector = inspector or ImageInspector()

    async def fetch(self, attachment: AttachmentRef) -> Screenshot:
        if attachment.unavailable is not None:
            raise AttachmentRefused(attachment.filename, attachment.unavailable)
        if attachment.size is not None and attachment.size > self._max_bytes:
            raise too_large(attachment.filename, self._max_bytes)
        data = await self._download(attachment.filename, attachment.url)
        return await self._inspector.inspect(attachment.filename, data)

    async def _download(self, filename: str, url: str) -> bytes:
        headers = self._headers
        for _ in range(_MAX_REDIRECTS + 1):
            if not await self._policy.allows(url):
                raise AttachmentRefused(filename, Message.REASON_HOST_NOT_ALLOWED)
            try:
                async with self._client.stream("GET", url, headers=headers) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers.get("location", "")))
                        continue
                    if response.status_code != 200:
                        raise AttachmentUnreadable(
                            filename,
                            Message.REASON_DOWNLOAD_FAILED,
                            detail=f"HTTP {response.status_code}",
                        )
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > self._max_bytes:
                        raise too_large(filename, self._max_bytes)
                    body = bytearray()
                    async for chunk in response.aiter_bytes(_CHUNK):
                        body.extend(chunk)
                        if len(body) > self._max_bytes:
                            raise too_large(filename, self._max_bytes)
                    return bytes(body)
            except httpx.HTTPError as error:
                raise AttachmentUnreadable(
                    filename, Message.REASON_DOWNLOAD_FAILED, detail=type(error).__name__
                ) from error
        raise AttachmentUnreadable(
            filename, Message.REASON_DOWNLOAD_FAILED, detail="too many redirects"
        )


class LocalFileFetcher:
    """Reads images from local paths (the `diagnose` command); `AttachmentRef.url` is the path."""

    def __init__(self, *, max_bytes: int, inspector: ImageInspector | None = None) -> None:
        self._max_bytes = max_bytes
        self._inspector = inspector or ImageInspector()

    async def fetch(self, attachment: AttachmentRef) -> Screenshot:
        path = Path(attachment.url)
        try:
            size = path.stat().st_size
            if size > self._max_bytes:
                raise too_large(attachment.filename, self._max_bytes)
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as error:
            raise AttachmentUnreadable(
                attachment.filename,
                Message.REASON_DOWNLOAD_FAILED,
                detail=error.strerror or "unreadable",
            ) from error
        return await self._inspector.inspect(attachment.filename, data)
