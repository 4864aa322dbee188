"""Make sure downloaded bytes really are an image worth showing the model.

Slack answers a bot without the `files:read` scope with an HTML login page and a
200, so the bytes are checked, never the declared type; clamd scans them first
when configured.
"""

from __future__ import annotations

import asyncio
import io
import logging
import struct
import warnings

from PIL import Image

from bot.engine.images import sniff_image_type, to_model_rgb
from bot.errors import AttachmentRefused, AttachmentUnreadable
from bot.messages import Message
from bot.safety.virus_scan import ScannerUnavailable, VirusScanner
from bot.turns import Screenshot

log = logging.getLogger(__name__)

# Qwen's image processor refuses images whose sides differ more than this many times
# ("absolute aspect ratio must be smaller than 200"): such a file is refused here, named.
MAX_ASPECT_RATIO = 200


def looks_like_html(head: bytes) -> bool:
    """Whether a download is a web page (Slack's login page when a scope is missing)."""
    start = head.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def validate_image(filename: str, data: bytes, *, max_pixels: int) -> Screenshot:
    """Check the bytes decode to a whole image no larger than `max_pixels`.

    The image is decoded and normalised exactly as the engine will, so a file
    that would fail there is refused here, with its reason.

    Raises:
        AttachmentRefused: not an allowed image type, too many pixels, or too long
            and thin for the model's image processor.
        AttachmentUnreadable: damaged or truncated.
    """
    media_type = sniff_image_type(data[:16])
    if media_type is None:
        reason = (
            Message.REASON_LOGIN_PAGE
            if looks_like_html(data[:512])
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
                if max(width, height) >= MAX_ASPECT_RATIO * max(1, min(width, height)):
                    raise AttachmentRefused(
                        filename,
                        Message.REASON_ASPECT_RATIO,
                        width=width,
                        height=height,
                        limit=MAX_ASPECT_RATIO,
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
        await self.scan(filename, data)
        return await asyncio.to_thread(validate_image, filename, data, max_pixels=self._max_pixels)

    async def scan(self, filename: str, data: bytes) -> None:
        """Virus-scan any downloaded file (images and text alike); raises the refusal."""
        if self._scanner is None:
            return
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
