"""Downloaded bytes to what the model can read: a screenshot, a text file, or a refusal."""

from __future__ import annotations

import asyncio

from bot.attachments.text_files import decode_text
from bot.engine.images import sniff_image_type
from bot.errors import AttachmentRefused
from bot.messages import Message
from bot.safety.image_checks import ImageInspector, looks_like_html
from bot.turns import Screenshot, TextFile

_WEB_PAGE_NAMES = (".html", ".htm", ".xhtml")


class AttachmentInspector:
    """Virus scan first, then: an image by its magic bytes, else text by its content.

    A web page is text, but one that arrives for a file not named as a web page is
    Slack's login page (the bot lacks `files:read`), and is refused as such.

    Args:
        images: the image checks (and the virus scanner they hold).
    """

    def __init__(self, images: ImageInspector | None = None) -> None:
        self._images = images or ImageInspector()

    async def inspect(self, filename: str, data: bytes) -> Screenshot | TextFile:
        if sniff_image_type(data[:16]) is not None:
            return await self._images.inspect(filename, data)
        await self._images.scan(filename, data)
        if looks_like_html(data[:512]) and not filename.lower().endswith(_WEB_PAGE_NAMES):
            raise AttachmentRefused(filename, Message.REASON_LOGIN_PAGE)
        decoded = await asyncio.to_thread(decode_text, data)
        if decoded is None:
            raise AttachmentRefused(filename, Message.REASON_NOT_AN_IMAGE)
        text, encoding = decoded
        return TextFile(filename=filename, text=text, encoding=encoding)
