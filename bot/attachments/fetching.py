"""Download attachments, only from allowed places, and hand the bytes to the inspection."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

import httpx

from bot.attachments.credentials import Credentials, NoCredentials
from bot.attachments.inspection import AttachmentInspector
from bot.errors import AttachmentRefused, AttachmentUnreadable
from bot.messages import Message
from bot.safety.image_checks import ImageInspector
from bot.safety.url_policy import UrlPolicy
from bot.turns import AttachmentRef, Screenshot, TextFile

log = logging.getLogger(__name__)

_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class AttachmentFetcher(Protocol):
    async def fetch(self, attachment: AttachmentRef) -> Screenshot | TextFile:
        """Download and read one attachment (image or text); raises `AttachmentError` why not."""
        ...


def too_large(filename: str, max_bytes: int) -> AttachmentRefused:
    """The refusal for a file over `max_bytes`, naming the limit in MB."""
    return AttachmentRefused(
        filename, Message.REASON_TOO_LARGE, limit_mb=f"{max_bytes / 1024 / 1024:g}"
    )


class HttpImageFetcher:
    """Fetches images over HTTP, only from URLs its policy allows, redirects included.

    Args:
        client: the httpx client to use (its transport decides where requests go).
        policy: checked before the first request and every redirect.
        credentials: asked for each request by its URL, redirects included, so a
            vendor's token reaches only the vendor's own download URLs (Slack's bearer
            token, a helpdesk's API auth) and never the storage host it redirects to.
        max_bytes: downloads stop and are refused past this size.
        inspector: scans and decodes images; text files are read beside them.
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        policy: UrlPolicy,
        credentials: Credentials | None = None,
        max_bytes: int,
        inspector: ImageInspector | None = None,
    ) -> None:
        self._client = client
        self._policy = policy
        self._credentials = credentials or NoCredentials()
        self._max_bytes = max_bytes
        self._inspector = AttachmentInspector(inspector)

    async def fetch(self, attachment: AttachmentRef) -> Screenshot | TextFile:
        if attachment.unavailable is not None:
            raise AttachmentRefused(attachment.filename, attachment.unavailable)
        if attachment.size is not None and attachment.size > self._max_bytes:
            raise too_large(attachment.filename, self._max_bytes)
        data = await self._download(attachment.filename, attachment.url)
        return await self._inspector.inspect(attachment.filename, data)

    async def _download(self, filename: str, url: str) -> bytes:
        for _ in range(_MAX_REDIRECTS + 1):
            if _malformed(url):
                raise AttachmentRefused(filename, Message.REASON_BAD_URL)
            if not await self._policy.allows(url):
                raise AttachmentRefused(filename, Message.REASON_HOST_NOT_ALLOWED)
            try:
                headers = dict(self._credentials.headers_for(httpx.URL(url)))
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
            except httpx.InvalidURL as error:  # not an HTTPError: a location httpx cannot use
                raise AttachmentRefused(filename, Message.REASON_BAD_URL) from error
            except httpx.HTTPError as error:
                raise AttachmentUnreadable(
                    filename, Message.REASON_DOWNLOAD_FAILED, detail=type(error).__name__
                ) from error
        raise AttachmentUnreadable(
            filename, Message.REASON_DOWNLOAD_FAILED, detail="too many redirects"
        )


class LocalFileFetcher:
    """Reads images and text files from local paths (the `diagnose` command).

    `AttachmentRef.url` is the path.
    """

    def __init__(self, *, max_bytes: int, inspector: ImageInspector | None = None) -> None:
        self._max_bytes = max_bytes
        self._inspector = AttachmentInspector(inspector)

    async def fetch(self, attachment: AttachmentRef) -> Screenshot | TextFile:
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


def _malformed(url: str) -> bool:
    """Whitespace or control characters (a CR/LF would split the request), or no parse."""
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return True
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return True
    return False
