"""What every vendor's knowledge source shares: its name, visibility, client and skips.

The vendors differ in paging, auth and shapes (their own modules); this is the part
that is the same for all of them, so each source says only what is its own.
"""

from __future__ import annotations

import logging

from bot.knowledge.sources.base import Visibility
from bot.knowledge.sources.vendor_http import Skipped, VendorClient, clean_title

log = logging.getLogger(__name__)


class VendorSource:
    """A source read from a vendor's REST API through one `VendorClient`.

    `skipped` lists, for the sync summary, the items of the latest listing that could
    not become documents, each with its reason.
    """

    def __init__(self, *, name: str, visibility: Visibility, client: VendorClient) -> None:
        self._name = name
        self._visibility = visibility
        self._client = client
        self.skipped: list[Skipped] = []

    @property
    def name(self) -> str:
        return self._name

    def _skip(self, item_id: str, reason: str) -> None:
        # The id may be whatever the API sent; it is shown in the sync summary and the log.
        item_id = (clean_title(item_id) or "?")[:40]
        self.skipped.append(Skipped(item_id, reason))
        log.warning("knowledge source %s: skipped %s: %s", self._name, item_id, reason)

    async def aclose(self) -> None:
        await self._client.aclose()
