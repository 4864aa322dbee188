"""A fake Slack Web API served over real HTTP: it records calls and serves files.

Point the bot at it with `SLACK_API_URL=<url>/api/` and list `<url>/files/` in
`SLACK_FILE_URL_PREFIXES`. Files need the bot token as a bearer token, as on
files.slack.com; a file registered as HTML answers like Slack's login page does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0TEST001"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"

T = TypeVar("T")


@dataclass(frozen=True)
class SlackCall:
    method: str
    args: dict[str, Any]
    token: str | None


class FakeSlack:
    """State and ASGI app of the fake Slack. Thread-safe: the bot calls it from its own loop."""

    def __init__(
        self,
        *,
        bot_token: str,
        streaming: bool = False,
        scopes: str = "app_mentions:read,channels:history,groups:history,im:history,chat:write,"
        "files:read,reactions:write,users:read,files:write,commands",
        locales: dict[str, str] | None = None,
        app_token: str | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.streaming = streaming
        self.scopes = scopes
        self.locales = locales or {}
        self._failures: dict[str, list[tuple[int, int]]] = {}
        self.socket_mode_url: str | None = None
        self.base_url = ""  # set by the test once the server has a port
        self.uploads: dict[str, bytes] = {}
        self._delays: dict[str, float] = {}
        self.responses: list[dict[str, Any]] = []
        self._calls: list[SlackCall] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._downloads: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["POST", "GET"]),
                Route("/files/{name:path}", self._file, methods=["GET"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                Route("/respond/{hook}", self._respond, methods=["POST"]),
            ]
        )

    # -- what tests use -------------------------------------------------------

    def add_file(self, name: str, data: bytes, content_type: str = "image/png") -> None:
        with self._lock:
            self._files[name] = (data, content_type)

    def fail_next(
        self, method: str, *, status: int = 429, retry_after: int = 1, times: int = 1
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (and Retry-After for 429)."""
        with self._lock:
            self._failures.setdefault(method, []).extend([(status, retry_after)] * times)

    def streamed_text(self, channel: str, stream_ts: str) -> str:
        """All text a streamed message received (start, appends and stop)."""
        return "".join(
            c.args.get("markdown_text") or ""
            for c in self.calls()
            if c.method in {"chat.startStream", "chat.appendStream", "chat.stopStream"}
            and c.args.get("channel") == channel
            and (c.args.get("ts") or c.args.get("_ts")) == stream_ts
        )

    def delay_file(self, name: str, seconds: float) -> None:
        """Serve `name` only after `seconds` (a slow download the bot is stuck in)."""
        with self._lock:
            self._delays[name] = seconds

    def downloads(self, name: str) -> int:
        with self._lock:
            return self._downloads.get(name, 0)

    def calls(self, method: str | None = None) -> list[SlackCall]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def thread_messages(self, channel: str, thread_ts: str) -> list[SlackCall]:
        """Messages posted into one thread (chat.postMessage with that thread_ts)."""
        return [
            c
            for c in self.calls("chat.postMessage")
            if c.args.get("channel") == channel and c.args.get("thread_ts") == thread_ts
        ]

    def final_text(self, channel: str, message_ts: str) -> str:
        """The last text a posted message was given (its post, then each chat.update)."""
        text = ""
        for call in self.calls():
            if call.method == "chat.postMessage" and call.args.get("_ts") == message_ts:
                text = call.args.get("text", "")
            if call.method == "chat.update" and call.args.get("ts") == message_ts:
                text = call.args.get("text", "")
        return text

    def wait_for(self, condition: Callable[[], T | None], *, timeout: float = 30.0) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := condition():
                return result
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {condition}")

    # -- the HTTP side ----------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = dict(request.query_params) | await _read_args(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ") or args.get(
            "token"
        )
        app_level = method == "apps.connections.open" and token == self.app_token
        if token != self.bot_token and not app_level:
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        with self._lock:
            queued = self._failures.get(method)
            failure = queued.pop(0) if queued else None
        if failure is not None:
            status, retry_after = failure
            with self._lock:
                self._calls.append(SlackCall(f"{method}!{status}", args, token))
            headers = {"Retry-After": str(retry_after)} if status == 429 else {}
            return JSONResponse({"ok": False, "error": "ratelimited"}, status, headers=headers)
        response, headers = self._answer(method, args)
        with self._lock:
            self._calls.append(SlackCall(method, args, token))
        return JSONResponse(response, headers=headers)

    def _answer(self, method: str, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        response: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            response |= {
                "url": "https://acme.slack.com/",
                "team": "Acme",
                "user": "supportbot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
            return response, {"x-oauth-scopes": self.scopes}
        if method == "chat.postMessage" or (method == "chat.startStream" and self.streaming):
            ts = f"1800000000.{next(self._ts):06d}"
            args["_ts"] = ts
            response |= {"channel": args.get("channel"), "ts": ts}
        elif method in {"chat.update", "chat.appendStream", "chat.stopStream", "chat.delete"}:
            response |= {"channel": args.get("channel"), "ts": args.get("ts")}
        elif method == "users.info":
            user = str(args.get("user"))
            response["user"] = {"id": user, "locale": self.locales.get(user, "en-US")}
        elif method == "apps.connections.open" and self.socket_mode_url:
            response["url"] = self.socket_mode_url
        elif method == "chat.getPermalink":
            response["permalink"] = (
                f"https://acme.slack.com/archives/{args.get('channel')}/p{args.get('message_ts')}"
            )
        elif method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            response |= {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}
        elif method == "files.completeUploadExternal":
            files = (
                json.loads(args["files"]) if isinstance(args.get("files"), str) else args["files"]
            )
            response["files"] = [{"id": f["id"], "title": f.get("title", "")} for f in files]
        elif method == "views.open":
            response["view"] = {"id": "V0001"}
        elif method not in {"reactions.add", "reactions.remove"}:
            response = {"ok": False, "error": "unknown_method"}
        return response, {}

    async def _upload(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.uploads[request.path_params["file_id"]] = body
        return Response(f"OK - {len(body)}", media_type="text/plain")

    async def _respond(self, request: Request) -> Response:
        """A slash command's response_url."""
        with self._lock:
            self.responses.append(json.loads(await request.body()))
        return Response("ok")

    async def _file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if request.headers.get("authorization") != f"Bearer {self.bot_token}":
            return Response(LOGIN_PAGE, media_type="text/html")
        with self._lock:
            self._downloads[name] = self._downloads.get(name, 0) + 1
            stored = self._files.get(name)
            delay = self._delays.get(name, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if stored is None:
            return Response(b"not found", status_code=404)
        data, content_type = stored
        return Response(data, media_type=content_type)


async def _read_args(request: Request) -> dict[str, Any]:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        return dict(json.loads(body)) if body else {}
    return dict(parse_qsl(body.decode()))
