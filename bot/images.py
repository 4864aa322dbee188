"""Download screenshots and make sure they really are images worth showing the model.

Slack answers a bot without the `files:read` scope with an HTML login page and a
200, so the bytes are checked, never the declared type.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from pathlib import Path
from typing import Protocol

import httpx
from PIL import Image

from bot.errors import AttachmentRefused, AttachmentUnreadable
from bot.messages import Message
from bot.turns import AttachmentRef, Screenshot

_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class AttachmentFetcher(Protocol):
    async def fetch(self, attachment: AttachmentRef) -> Screenshot:
        """Download and validate one attachment; raises `AttachmentError` with the reason."""
        ...


def sniff_image_type(head: bytes) -> str | None:
    """The media type from the file's magic bytes, or None when it is no allowed image."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def validate_image(filename: str, data: bytes, *, max_pixels: int) -> Screenshot:
    """Check the bytes decode to a whole image no larger than `max_pixels`.

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
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise AttachmentRefused(
                        filename, Message.REASON_TOO_MANY_PIXELS, pixels=width * height
                    )
                image.load()  # decodes fully: truncated files fail here, not in the engine
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AttachmentRefused(
            filename, Message.REASON_TOO_MANY_PIXELS, pixels="too many"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise AttachmentUnreadable(filename, Message.REASON_CORRUPT) from error
    return Screenshot(
        filename=filename, media_type=media_type, data=data, width=width, height=height
    )


class HttpImageFetcher:
    """Fetches images over HTTP with a bearer token, only from allowed URL prefixes.

    Args:
        client: the httpx client to use (its transport decides where requests go).
        allowed_prefixes: URLs must start with one of these, redirects included,
            so the token never reaches another host.
        bearer_token: sent as `Authorization: Bearer …` (Slack's bot token).
        max_bytes: downloads stop and are refused past this size.
        max_pixels: decoded images larger than this are refused.
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        allowed_prefixes: list[str],
        bearer_token: str | None,
        max_bytes: int,
        max_pixels: int = 64_000_000,
    ) -> None:
        self._client = client
        self._allowed_prefixes = tuple(allowed_prefixes)
        self._bearer_token = bearer_token
        self._max_bytes = max_bytes
        self._max_pixels = max_pixels

    async def fetch(self, attachment: AttachmentRef) -> Screenshot:
        if attachment.unavailable is not None:
            raise AttachmentRefused(attachment.filename, attachment.unavailable)
        if attachment.size is not None and attachment.size > self._max_bytes:
            raise self._too_large(attachment.filename)
        data = await self._download(attachment.filename, attachment.url)
        return await asyncio.to_thread(
            validate_image, attachment.filename, data, max_pixels=self._max_pixels
        )

    async def _download(self, filename: str, url: str) -> bytes:
        headers = {"Authorization": f"Bearer {self._bearer_token}"} if self._bearer_token else {}
        for _ in range(_MAX_REDIRECTS + 1):
            if not url.startswith(self._allowed_prefixes):
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
                        raise self._too_large(filename)
                    body = bytearray()
                    async for chunk in response.aiter_bytes(_CHUNK):
                        body.extend(chunk)
                        if len(body) > self._max_bytes:
                            raise self._too_large(filename)
                    return bytes(body)
            except httpx.HTTPError as error:
                raise AttachmentUnreadable(
                    filename, Message.REASON_DOWNLOAD_FAILED, detail=type(error).__name__
                ) from error
        raise AttachmentUnreadable(
            filename, Message.REASON_DOWNLOAD_FAILED, detail="too many redirects"
        )

    def _too_large(self, filename: str) -> AttachmentRefused:
        return AttachmentRefused(
            filename, Message.REASON_TOO_LARGE, limit_mb=f"{self._max_bytes / 1024 / 1024:g}"
        )


class LocalFileFetcher:
    """Reads images from local paths (the `diagnose` command); `AttachmentRef.url` is the path."""

    def __init__(self, *, max_bytes: int, max_pixels: int = 64_000_000) -> None:
        self._max_bytes = max_bytes
        self._max_pixels = max_pixels

    async def fetch(self, attachment: AttachmentRef) -> Screenshot:
        path = Path(attachment.url)
        try:
            size = path.stat().st_size
            if size > self._max_bytes:
                raise AttachmentRefused(
                    attachment.filename,
                    Message.REASON_TOO_LARGE,
                    limit_mb=f"{self._max_bytes / 1024 / 1024:g}",
                )
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as error:
            raise AttachmentUnreadable(
                attachment.filename,
                Message.REASON_DOWNLOAD_FAILED,
                detail=error.strerror or "unreadable",
            ) from error
        return await asyncio.to_thread(
            validate_image, attachment.filename, data, max_pixels=self._max_pixels
        )
