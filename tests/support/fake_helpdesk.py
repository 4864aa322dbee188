"""Fake Zendesk, Intercom and Jira Service Management APIs over real HTTP, in one server.

It records every internal note it receives and serves attachment files.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class ReceivedNote:
    provider: str
    ticket_id: str
    body: dict[str, Any]
    authorization: str


class FakeHelpdesk:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: list[ReceivedNote] = []
        self._files: dict[str, bytes] = {}
        self._failures = 0
        self.app = Starlette(
            routes=[
                Route("/api/v2/tickets/{ticket}.json", self._zendesk, methods=["PUT"]),
                Route("/conversations/{ticket}/reply", self._intercom, methods=["POST"]),
                Route(
                    "/rest/servicedeskapi/request/{ticket}/comment", self._jira, methods=["POST"]
                ),
                Route("/files/{name}", self._file, methods=["GET"]),
                Route("/api/v2/uploads.json", self._zendesk_upload, methods=["POST"]),
                Route("/api/v2/tickets.json", self._zendesk_create, methods=["POST"]),
            ]
        )
        self.uploads: list[tuple[str, bytes]] = []
        self.tickets: list[dict[str, Any]] = []

    def add_file(self, name: str, data: bytes) -> None:
        with self._lock:
            self._files[name] = data

    def fail_notes(self, times: int) -> None:
        """Answer the next `times` note posts with a 500."""
        with self._lock:
            self._failures = times

    def notes(self, provider: str | None = None) -> list[ReceivedNote]:
        with self._lock:
            return [n for n in self._notes if provider is None or n.provider == provider]

    async def _record(self, provider: str, request: Request) -> Response:
        with self._lock:
            if self._failures:
                self._failures -= 1
                return JSONResponse({"error": "temporarily unavailable"}, status_code=500)
        note = ReceivedNote(
            provider,
            request.path_params["ticket"],
            await request.json(),
            request.headers.get("authorization", ""),
        )
        with self._lock:
            self._notes.append(note)
        return JSONResponse({"ok": True}, status_code=201 if provider == "jira" else 200)

    async def _zendesk(self, request: Request) -> Response:
        return await self._record("zendesk", request)

    async def _intercom(self, request: Request) -> Response:
        return await self._record("intercom", request)

    async def _jira(self, request: Request) -> Response:
        return await self._record("jira", request)

    async def _zendesk_upload(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.uploads.append((request.query_params["filename"], body))
            token = f"upload-token-{len(self.uploads)}"
        return JSONResponse({"upload": {"token": token}}, status_code=201)

    async def _zendesk_create(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.tickets.append(body)
            ticket_id = 9000 + len(self.tickets)
        return JSONResponse({"ticket": {"id": ticket_id}}, status_code=201)

    async def _file(self, request: Request) -> Response:
        with self._lock:
            data = self._files.get(request.path_params["name"])
        return Response(data, media_type="image/png") if data else Response(status_code=404)
