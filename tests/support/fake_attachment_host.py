"""A vendor's separate file host: Zendesk's temporary download host, Atlassian's media host,
Intercom's CDN. Served on its own loopback address (127.0.0.2), so it is another host.

Its links are pre-signed and short-lived, and it is not the vendor's API: an
Authorization header that reaches it is recorded as a leaked credential and refused.

What each vendor documents about it:
- Zendesk: an attachment's `content_url` is followed by a redirect to a separate,
  temporary download URL; end-user attachments need the API credentials on the
  Zendesk host only.
  https://developer.zendesk.com/documentation/ticketing/managing-tickets/accessing-end-user-uploaded-attachments/
  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket-attachments/
- Jira Cloud: `GET /rest/api/3/attachment/content/{id}` answers 303 to the media
  host unless `redirect=false`.
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/#api-rest-api-3-attachment-content-id-get
- Intercom: attachment URLs in a conversation are signed links that expire, so they
  are read fresh from the conversation before a download.
  https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/retrieveconversation
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Blob:
    name: str
    data: bytes


class FakeAttachmentHost:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, Blob] = {}
        self._links: dict[str, str] = {}  # signature -> blob id
        self.url = ""  # set once served
        self.leaked: list[str] = []  # Authorization headers that reached this host
        self.served: list[str] = []
        self.requested: list[str] = []  # every valid request, as it arrives
        self._held = threading.Event()  # set: downloads wait until `release_files`
        self.app = Starlette(routes=[Route("/blob/{blob}", self._get, methods=["GET"])])

    def store(self, name: str, data: bytes) -> str:
        """Keep a file; returns its id."""
        blob_id = secrets.token_hex(8)
        with self._lock:
            self._blobs[blob_id] = Blob(name, data)
        return blob_id

    def signed_link(self, blob_id: str) -> str:
        """A fresh pre-signed link to the file (valid until `expire_links`)."""
        signature = secrets.token_urlsafe(12)
        with self._lock:
            self._links[signature] = blob_id
        return f"{self.url}/blob/{blob_id}?signature={signature}"

    def expire_links(self) -> None:
        """Every link handed out so far stops working (signed links expire)."""
        with self._lock:
            self._links.clear()

    def hold_files(self) -> None:
        """Downloads that arrive from now on wait (a slow file host) until `release_files`."""
        self._held.set()

    def release_files(self) -> None:
        self._held.clear()

    async def _get(self, request: Request) -> Response:
        authorization = request.headers.get("authorization")
        if authorization:
            with self._lock:
                self.leaked.append(authorization)
            # Pre-signed storage links take no other credentials; S3-style hosts refuse them.
            return JSONResponse({"error": "unexpected Authorization header"}, status_code=400)
        blob_id = request.path_params["blob"]
        with self._lock:
            valid = self._links.get(request.query_params.get("signature", "")) == blob_id
            blob = self._blobs.get(blob_id)
        if not valid or blob is None:
            return JSONResponse({"error": "link expired or invalid"}, status_code=403)
        with self._lock:
            self.requested.append(blob.name)
        while self._held.is_set():
            await asyncio.sleep(0.05)
        with self._lock:
            self.served.append(blob.name)
        return Response(blob.data, media_type="image/png")
