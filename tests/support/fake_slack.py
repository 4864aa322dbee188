"""A fake Slack Web API over real HTTP: it records calls, serves files and fails as Slack does.

Point the bot at it with `SLACK_API_URL=<url>/api/` and list `<url>/files/` in
`SLACK_FILE_URL_PREFIXES`. Files need the bot token as a bearer token, as on
files.slack.com; a file registered as HTML answers like Slack's login page does.

Every rule below is one Slack documents, with its page beside it. Method pages are
https://docs.slack.dev/reference/methods/<method> (cited as "<method> page"). The app's
scopes and App Home settings are read from deploy/slack-app-manifest.yaml, so a
method the manifest does not grant answers `missing_scope`, as on a real install.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0TEST001"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"
T = TypeVar("T")
MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yaml"

# chat.startStream / appendStream / stopStream pages: "Limit this field to 12,000 characters."
STREAM_TEXT_LIMIT = 12_000
# chat.postMessage page, "Truncating content": Slack truncates messages over 40,000 characters
# (https://api.slack.com/changelog/2018-04-truncating-really-long-messages); the fake refuses them.
POST_TEXT_LIMIT = 40_000
# chat.update page, msg_too_long: "The `text` field cannot exceed 4,000 characters."
UPDATE_TEXT_LIMIT = 4_000
# https://docs.slack.dev/reference/block-kit/blocks: up to 50 blocks in each message.
MAX_BLOCKS = 50
# https://docs.slack.dev/reference/block-kit/blocks/section-block: section text ≤ 3000 characters.
SECTION_TEXT_LIMIT = 3_000
# Slack closes a stream after a window it does not document: about five minutes, after which
# chat.appendStream and chat.stopStream answer message_not_in_streaming_state and only
# chat.update still changes the message (slackapi/python-slack-sdk#1859 and #1880). The fake
# closes streams older than `stream_window` seconds (short in tests).
STREAM_WINDOW = 300.0
# https://docs.slack.dev/interactivity/handling-user-interaction: a trigger_id lives 3 seconds.
TRIGGER_LIFETIME = 3.0

# The scope each method needs (the "Scopes" fact on each method page). Methods not listed need none.
_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.startStream": ("chat:write",),
    "chat.appendStream": ("chat:write",),
    "chat.stopStream": ("chat:write",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "users.info": ("users:read",),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "files.info": ("files:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    # https://docs.slack.dev/changelog/2026/03/05/set-status-scope-update: either scope will do.
    "assistant.threads.setStatus": ("chat:write", "assistant:write"),
    "assistant.threads.setSuggestedPrompts": ("assistant:write",),
    "assistant.threads.setTitle": ("assistant:write",),
    "usergroups.users.list": ("usergroups:read",),
}
# conversations.replies page: the history scope of the conversation's kind.
_HISTORY_SCOPES = {"C": "channels:history", "G": "groups:history", "D": "im:history"}
# Rate tiers (https://docs.slack.dev/apis/web-api/rate-limits), calls a minute, per method page.
RATE_TIERS: dict[str, int] = {
    "chat.startStream": 20,  # Tier 2
    "chat.stopStream": 20,  # Tier 2
    "reactions.remove": 20,  # Tier 2
    "chat.update": 50,  # Tier 3
    "chat.delete": 50,  # Tier 3
    "reactions.add": 50,  # Tier 3
    "chat.appendStream": 100,  # Tier 4
    "files.info": 100,  # Tier 4
    "users.info": 100,  # Tier 4
    "conversations.info": 50,  # Tier 3
    "usergroups.users.list": 20,  # Tier 2
}
# Methods that post into a conversation: not_in_channel and messages_tab_disabled apply
# (listed among the errors of chat.postMessage and the three stream methods).
_POSTING = {"chat.postMessage", "chat.startStream", "chat.appendStream", "chat.stopStream"}


@dataclass(frozen=True)
class SlackCall:
    method: str
    args: dict[str, Any]
    token: str | None
    error: str | None = None  # the error Slack answered with; None when the call succeeded


@dataclass
class _Message:
    """A message the bot put in Slack: posted, or streamed (then `streaming` until stopped)."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    streaming: bool = False
    stopped_by_user: bool = False
    appends: int = 0
    stop_after: int | None = None  # the user presses Stop after this many appends
    started: float = field(default_factory=time.monotonic)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task cards by id
    task_log: list[tuple[str, str]] = field(default_factory=list)  # (id, status), in order


@dataclass
class _Trigger:
    issued: float
    exchanged: bool = False


@dataclass
class _Failure:
    status: int
    retry_after: int
    landed: bool


class SlackError(Exception):
    """One of Slack's documented `{"ok": false, "error": ...}` answers."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Manifest:
    scopes: set[str] = field(default_factory=set)
    messages_tab: bool = False
    messages_tab_read_only: bool = False
    experience: str | None = None  # "agent" (agent_view), "assistant" (assistant_view), None


def read_manifest(path: Path = MANIFEST) -> _Manifest:
    """The bot scopes, App Home settings and AI experience of a Slack app manifest."""
    manifest = yaml.safe_load(path.read_text())
    features = manifest.get("features") or {}
    home = features.get("app_home") or {}
    # https://docs.slack.dev/ai/migrating-to-agent-messaging: agent_view (agent_description)
    # is the agent messaging experience, assistant_view (assistant_description) the older one.
    experience = (
        "agent"
        if "agent_view" in features
        else "assistant"
        if "assistant_view" in features
        else None
    )
    return _Manifest(
        scopes=set(manifest["oauth_config"]["scopes"]["bot"]),
        messages_tab=bool(home.get("messages_tab_enabled", False)),
        messages_tab_read_only=bool(home.get("messages_tab_read_only_enabled", False)),
        experience=experience,
    )


def assistant_view_manifest(directory: Path) -> Path:
    """The app manifest as an app created before the agent experience has it: assistant_view
    with its assistant_description, and the assistant thread events instead of app_home_opened."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    view = manifest["features"].pop("agent_view")
    manifest["features"]["assistant_view"] = {"assistant_description": view["agent_description"]}
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    events.remove("app_home_opened")
    events += ["assistant_thread_started", "assistant_thread_context_changed"]
    path = directory / "slack-app-manifest-assistant-view.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


class FakeSlack:
    """State and ASGI app of the fake Slack. Thread-safe: the bot calls it from its own loop.

    Args:
        bot_token: the only bot token it accepts.
        streaming: whether the workspace has the chat.*Stream methods (without them they
            answer `unknown_method`, as for any method Slack does not have).
        scopes: the granted bot scopes, comma-separated; default: the manifest's.
        locales: users.info locale per user id.
        app_token: the app-level token for apps.connections.open (Socket Mode).
        manifest: the app manifest to read scopes and App Home settings from.
        rate_tiers: answer 429 past each method's documented per-minute tier.
        usergroups: the members of each user group (usergroups.users.list).
        stream_window: seconds after its start that Slack closes a stream.
    """

    def __init__(
        self,
        *,
        bot_token: str,
        streaming: bool = False,
        scopes: str | None = None,
        locales: dict[str, str] | None = None,
        app_token: str | None = None,
        manifest: Path = MANIFEST,
        rate_tiers: bool = False,
        user_names: dict[str, str] | None = None,
        channel_names: dict[str, str] | None = None,
        usergroups: dict[str, list[str]] | None = None,
        stream_window: float = STREAM_WINDOW,
    ) -> None:
        app = read_manifest(manifest)
        self.bot_token = bot_token
        self.app_token = app_token
        self.streaming = streaming
        self.scopes = scopes if scopes is not None else ",".join(sorted(app.scopes))
        self.messages_tab_enabled = app.messages_tab and not app.messages_tab_read_only
        self.experience = app.experience
        self.shown_prompts: dict[str, list[dict[str, Any]]] = {}  # channel → prompts shown
        self.ignored_prompts: list[dict[str, Any]] = []  # calls Slack dropped silently
        self.locales = locales or {}
        self.rate_tiers = rate_tiers
        self.user_names = user_names or {}
        self.channel_names = channel_names or {}
        self.usergroups = usergroups or {}
        self.private_channels: set[str] = set()
        self.stream_window = stream_window
        self.expired_streams: list[str] = []  # ts of each stream Slack closed by its window
        self._failures: dict[str, list[_Failure]] = {}
        self._refusals: dict[str, list[str]] = {}
        self.socket_mode_url: str | None = None
        self.base_url = ""  # set by the test once the server has a port
        self.uploads: dict[str, bytes] = {}
        self._delays: dict[str, float] = {}
        self.responses: list[dict[str, Any]] = []
        self._calls: list[SlackCall] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._file_infos: dict[str, dict[str, Any]] = {}
        self._downloads: dict[str, int] = {}
        self._messages: dict[tuple[str, str], _Message] = {}
        self._reactions: set[tuple[str, str, str]] = set()
        self._outside: set[str] = set()
        self._user_stops: list[int] = []
        self._triggers: dict[str, _Trigger] = {}
        self._recent: dict[str, list[float]] = {}
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

    def add_connect_file(
        self, file_id: str, name: str, data: bytes, content_type: str = "image/png"
    ) -> dict[str, Any]:
        """A file shared from another organisation over Slack Connect.

        Returns the stub a message event carries for it: only its id and
        `file_access: "check_file_info"`; files.info hands out the whole file object
        (https://docs.slack.dev/reference/events/message/file_share, "Slack Connect files").
        """
        self.add_file(name, data, content_type)
        url = f"{self.base_url}/files/{name}"
        with self._lock:
            self._file_infos[file_id] = {
                "id": file_id,
                "name": name,
                "title": name,
                "mimetype": content_type,
                "size": len(data),
                "mode": "hosted",
                "url_private": url,
                "url_private_download": url,
            }
        return {"id": file_id, "mode": "file_access", "file_access": "check_file_info"}

    def add_shared_file(
        self,
        file_id: str,
        name: str,
        data: bytes,
        *,
        shared_in: list[str],
        content_type: str = "image/png",
    ) -> dict[str, Any]:
        """A file shared in the conversations `shared_in`, as files.info describes it.

        The file object lists those conversations in `channels` (C…), `groups` (G…) or `ims`
        (D…) and under `shares.public` / `shares.private`
        (https://docs.slack.dev/reference/objects/file-object). Returns the file object a
        message (or a message shared into another) carries.
        """
        self.add_file(name, data, content_type)
        url = f"{self.base_url}/files/{name}"
        info: dict[str, Any] = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": content_type,
            "size": len(data),
            "mode": "hosted",
            "url_private": url,
            "url_private_download": url,
            "channels": [c for c in shared_in if c.startswith("C")],
            "groups": [c for c in shared_in if c.startswith("G")],
            "ims": [c for c in shared_in if c.startswith("D")],
            "shares": {
                "public": {c: [{"ts": "1.0"}] for c in shared_in if c.startswith("C")},
                "private": {c: [{"ts": "1.0"}] for c in shared_in if not c.startswith("C")},
            },
        }
        with self._lock:
            self._file_infos[file_id] = info
        return {k: v for k, v in info.items() if k not in {"channels", "groups", "ims", "shares"}}

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        landed: bool = False,
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (and Retry-After for 429).

        With `landed`, the call takes effect before the error is answered: a post that timed
        out on its way back has still been posted.
        """
        with self._lock:
            failures = self._failures.setdefault(method, [])
            failures.extend([_Failure(status, retry_after, landed)] * times)

    def refuse_next(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`:
        one of the method page's documented errors that the fake has no state for
        (restricted_action, a workspace preference, …)."""
        with self._lock:
            self._refusals.setdefault(method, []).extend([error] * times)

    def leave_channel(self, channel: str) -> None:
        """The bot is not a member of `channel`: posting there answers not_in_channel."""
        with self._lock:
            self._outside.add(channel)

    def user_stops_next_stream(self, *, after_appends: int = 1) -> None:
        """The user presses Stop on the next streamed answer after `after_appends` appends:
        later appends answer stopped_by_user (chat.appendStream page)."""
        with self._lock:
            self._user_stops.append(after_appends)

    def trigger_id(self, *, issued_seconds_ago: float = 0.0) -> str:
        """A trigger_id as an interaction payload carries it, issued `issued_seconds_ago`.

        views.open holds these to Slack's rules (3 seconds, one view); trigger ids a test
        writes by hand are accepted as they are.
        """
        number = next(self._ts)
        trigger = f"{number}.{number * 7919}.{number:032x}"
        with self._lock:
            self._triggers[trigger] = _Trigger(time.time() - issued_seconds_ago)
        return trigger

    def streamed_text(self, channel: str, stream_ts: str) -> str:
        """All text a streamed message received (start, appends and stop)."""
        return "".join(
            c.args.get("markdown_text") or ""
            for c in self.calls()
            if c.method in {"chat.startStream", "chat.appendStream", "chat.stopStream"}
            and c.error is None
            and c.args.get("channel") == channel
            and (c.args.get("ts") or c.args.get("_ts")) == stream_ts
        )

    def stream_messages(self, channel: str, thread_ts: str) -> list[str]:
        """The ts of each message streamed into a thread, in order."""
        return [
            c.args["_ts"]
            for c in self.calls("chat.startStream")
            if c.error is None
            and c.args.get("channel") == channel
            and c.args.get("thread_ts") == thread_ts
        ]

    def statuses(self, channel: str, thread_ts: str) -> list[str]:
        """Each status the bot set on a thread (assistant.threads.setStatus), "" when cleared."""
        return [
            str(c.args.get("status", ""))
            for c in self.calls("assistant.threads.setStatus")
            if c.error is None
            and c.args.get("channel_id") == channel
            and c.args.get("thread_ts") == thread_ts
        ]

    def task_cards(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The task cards a streamed message shows now, in the order they first came."""
        with self._lock:
            message = self._messages.get((channel, ts))
            return list(message.tasks.values()) if message else []

    def task_updates(self, channel: str, ts: str) -> list[tuple[str, str]]:
        """Every (id, status) a streamed message received, in order."""
        with self._lock:
            message = self._messages.get((channel, ts))
            return list(message.task_log) if message else []

    def is_streaming(self, channel: str, ts: str) -> bool:
        with self._lock:
            message = self._messages.get((channel, ts))
            return bool(message and message.streaming)

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

    def errors(self, method: str | None = None) -> list[SlackCall]:
        """Calls Slack refused (`ok: false`)."""
        return [c for c in self.calls(method) if c.error is not None]

    def thread_messages(self, channel: str, thread_ts: str) -> list[SlackCall]:
        """Messages posted into one thread (chat.postMessage with that thread_ts)."""
        return [
            c
            for c in self.calls("chat.postMessage")
            if c.error is None
            and c.args.get("channel") == channel
            and c.args.get("thread_ts") == thread_ts
        ]

    def final_text(self, channel: str, message_ts: str) -> str:
        """The last text a posted message was given (its post, then each chat.update)."""
        text = ""
        for call in self.calls():
            if call.error is not None:
                continue
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
            limited = self._over_tier(method)
        if limited is not None:
            # https://docs.slack.dev/apis/web-api/rate-limits: HTTP 429 with Retry-After.
            with self._lock:
                self._calls.append(SlackCall(f"{method}!429", args, token, "ratelimited"))
            return JSONResponse(
                {"ok": False, "error": "ratelimited"}, 429, headers={"Retry-After": str(limited)}
            )
        if failure is not None and not failure.landed:
            with self._lock:
                self._calls.append(SlackCall(f"{method}!{failure.status}", args, token))
            headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else {}
            body = {"ok": False, "error": "ratelimited"}
            return JSONResponse(body, failure.status, headers=headers)
        try:
            with self._lock:
                response, headers = self._answer(method, args)
            error = None
        except SlackError as refused:
            response, headers = {"ok": False, "error": refused.error, **refused.extra}, {}
            error = refused.error
        with self._lock:
            self._calls.append(SlackCall(method, args, token, error))
        if failure is not None:  # it landed, but the answer that says so is lost
            return JSONResponse({"ok": False, "error": "fatal_error"}, failure.status)
        return JSONResponse(response, headers=headers)

    def _over_tier(self, method: str) -> int | None:
        """Seconds to wait when `method` is past its tier this minute, else None."""
        limit = RATE_TIERS.get(method)
        if not self.rate_tiers or limit is None:
            return None
        now = time.monotonic()
        recent = [t for t in self._recent.get(method, []) if now - t < 60]
        if len(recent) >= limit:
            self._recent[method] = recent
            return max(1, int(60 - (now - recent[0])) + 1)
        self._recent[method] = [*recent, now]
        return None

    def _answer(self, method: str, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        self._check_scope(method, args)
        refusals = self._refusals.get(method)
        if refusals:
            raise SlackError(refusals.pop(0))
        if method in _POSTING:
            self._check_conversation(str(args.get("channel") or ""))
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
        if method == "chat.postMessage":
            response |= self._post(args)
        elif method == "chat.startStream" and self.streaming:
            response |= self._start_stream(args)
        elif method == "chat.appendStream" and self.streaming:
            response |= self._append_stream(args)
        elif method == "chat.stopStream" and self.streaming:
            response |= self._stop_stream(args)
        elif method == "chat.update":
            response |= self._update(args)
        elif method == "chat.delete":
            _require(args, "channel", "ts")
            self._messages.pop((str(args["channel"]), str(args["ts"])), None)
            response |= {"channel": args.get("channel"), "ts": args.get("ts")}
        elif method == "chat.postEphemeral":
            _require(args, "channel", "user")
            _check_text_and_blocks(args, POST_TEXT_LIMIT)
            response["message_ts"] = self._next_ts()
        elif method in {"reactions.add", "reactions.remove"}:
            self._react(method, args)
        elif method == "users.info":
            _require(args, "user")
            user = str(args.get("user"))
            # https://docs.slack.dev/reference/methods/users.info: the name people see is
            # profile.display_name (may be ""), then real_name.
            name = self.user_names.get(user, "")
            response["user"] = {
                "id": user,
                "name": name.lower().replace(" ", "."),
                "real_name": name,
                "profile": {"display_name": name, "real_name": name},
                "locale": self.locales.get(user, "en-US"),
            }
        elif method == "conversations.info":
            # https://docs.slack.dev/reference/methods/conversations.info: channel_not_found
            # for an id the bot cannot see (private channel it is not in, unknown id).
            _require(args, "channel")
            channel = str(args["channel"])
            if channel not in self.channel_names:
                raise SlackError("channel_not_found")
            # is_private: private channels (G… ids here, and those in private_channels).
            private = channel.startswith("G") or channel in self.private_channels
            response["channel"] = {
                "id": channel,
                "name": self.channel_names[channel],
                "is_private": private,
            }
        elif method == "usergroups.users.list":
            # https://docs.slack.dev/reference/methods/usergroups.users.list: usergroup is
            # required; an unknown id answers no_such_subteam; the answer lists user ids.
            _require(args, "usergroup")
            members = self.usergroups.get(str(args["usergroup"]))
            if members is None:
                raise SlackError("no_such_subteam")
            response["users"] = list(members)
        elif method == "files.info":
            # files.info page: file is required; an unknown id answers file_not_found.
            _require(args, "file")
            info = self._file_infos.get(str(args["file"]))
            if info is None:
                raise SlackError("file_not_found")
            response["file"] = info
        elif method == "conversations.replies":
            _require(args, "channel", "ts")
            response |= {"messages": self._replies(str(args["channel"]), str(args["ts"]))}
            response["has_more"] = False
        elif method == "apps.connections.open" and self.socket_mode_url:
            response["url"] = self.socket_mode_url
        elif method == "chat.getPermalink":
            _require(args, "channel", "message_ts")
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
            self._exchange_trigger(args)
            response["view"] = {"id": "V0001"}
        elif method == "assistant.threads.setStatus":
            # assistant.threads.setStatus page: channel_id, thread_ts and status are required;
            # loading_messages holds at most 10 messages.
            _require(args, "channel_id", "thread_ts")
            if "status" not in args:
                raise SlackError("invalid_arguments")
            if len(_as_list(args.get("loading_messages")) or []) > 10:
                raise SlackError("invalid_arguments")
        elif method == "assistant.threads.setSuggestedPrompts":
            # setSuggestedPrompts page: each prompt has its title and message.
            _require(args, "channel_id", "prompts")
            prompts = _as_list(args["prompts"]) or []
            # setSuggestedPrompts page: "up to four suggested prompts".
            if not prompts or len(prompts) > 4:
                raise SlackError("invalid_arguments")
            if not all(p.get("title") and p.get("message") for p in prompts):
                raise SlackError("invalid_arguments")
            # Same page: "The thread_ts parameter should only be used in the legacy assistant
            # messaging experience. Including it in a call for an agent app will cause the call
            # to silently fail." Answered ok, and nothing is shown.
            if self.experience == "agent" and args.get("thread_ts"):
                self.ignored_prompts.append(args)
            else:
                self.shown_prompts[str(args["channel_id"])] = prompts
        elif method == "assistant.threads.setTitle":
            _require(args, "channel_id", "thread_ts", "title")
        else:
            raise SlackError("unknown_method")
        return response, {}

    # -- the rules ---------------------------------------------------------------

    def _check_scope(self, method: str, args: dict[str, Any]) -> None:
        """Each method page's "Scopes" fact; a missing one answers missing_scope
        (https://docs.slack.dev/authentication/tokens#scopes)."""
        granted = {s.strip() for s in self.scopes.split(",") if s.strip()}
        needed = _SCOPES.get(method)
        if method == "conversations.replies":
            needed = (_HISTORY_SCOPES.get(str(args.get("channel", "C"))[:1], "channels:history"),)
        if needed and not granted.intersection(needed):
            raise SlackError("missing_scope", needed=needed[0], provided=",".join(sorted(granted)))

    def _check_conversation(self, channel: str) -> None:
        if not channel:
            raise SlackError("channel_not_found")
        # chat.postMessage page: not_in_channel, "Cannot post user messages to a channel they are
        # not in"; the stream methods list the same error.
        if channel in self._outside:
            raise SlackError("not_in_channel")
        # messages_tab_disabled ("Messages tab for the app is disabled") on the same pages: a DM
        # with an app whose App Home has no writable Messages tab
        # (https://github.com/slackapi/python-slack-sdk/issues/1015).
        if channel.startswith("D") and not self.messages_tab_enabled:
            raise SlackError("messages_tab_disabled")

    def _post(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel")
        text = _check_text_and_blocks(args, POST_TEXT_LIMIT)
        ts = self._next_ts()
        args["_ts"] = ts
        channel = str(args["channel"])
        thread_ts = args.get("thread_ts")
        self._messages[(channel, ts)] = _Message(channel, ts, thread_ts and str(thread_ts), text)
        return {"channel": channel, "ts": ts}

    def _start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        # chat.startStream page: channel and thread_ts are required ("Streamed messages should
        # always be replies to a user request"); recipient_user_id and recipient_team_id are
        # "Required when streaming to channels".
        _require(args, "channel", "thread_ts")
        channel = str(args["channel"])
        if not channel.startswith("D"):
            if not args.get("recipient_user_id"):
                raise SlackError("missing_recipient_user_id")
            if not args.get("recipient_team_id"):
                raise SlackError("missing_recipient_team_id")
        text = _stream_text(args, required=False)
        chunks = _stream_chunks(args)
        ts = self._next_ts()
        args["_ts"] = ts
        message = _Message(channel, ts, str(args["thread_ts"]), text, streaming=True)
        _show_tasks(message, chunks)
        if self._user_stops:
            message.stop_after = self._user_stops.pop(0)
        self._messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts}

    def _streaming_message(self, args: dict[str, Any]) -> _Message:
        _require(args, "channel", "ts")
        message = self._messages.get((str(args["channel"]), str(args["ts"])))
        if message is None:
            raise SlackError("message_not_found")
        self._expire(message)
        # chat.appendStream page: stopped_by_user, "The streaming message was stopped by the user
        # and no further appends are accepted".
        if message.stopped_by_user:
            raise SlackError("stopped_by_user")
        # chat.appendStream / stopStream pages: message_not_in_streaming_state.
        if not message.streaming:
            raise SlackError("message_not_in_streaming_state")
        return message

    def _expire(self, message: _Message) -> None:
        """A stream past Slack's window is closed by Slack (STREAM_WINDOW above)."""
        if message.streaming and time.monotonic() - message.started > self.stream_window:
            message.streaming = False
            self.expired_streams.append(message.ts)

    def _append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming_message(args)
        # chat.appendStream page: markdown_text is required (markdown_text_required) unless
        # the call carries chunks (https://docs.slack.dev/reference/methods/chat.appendStream.md
        # lists only channel and ts as required, chunks as optional).
        chunks = _stream_chunks(args)
        text = _stream_text(args, required=not chunks)
        _show_tasks(message, chunks)
        message.text += text
        if not text:  # the user's Stop (below) is counted in appends of text
            return {"channel": message.channel, "ts": message.ts}
        message.appends += 1
        if message.stop_after is not None and message.appends >= message.stop_after:
            message.streaming, message.stopped_by_user = False, True
        return {"channel": message.channel, "ts": message.ts}

    def _stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming_message(args)
        chunks = _stream_chunks(args)
        message.text += _stream_text(args, required=False)
        _show_tasks(message, chunks)
        # chat.stopStream page: blocks "has a limit of 50" (msg_blocks_too_many).
        blocks = _as_list(args.get("blocks")) or []
        if len(blocks) > MAX_BLOCKS:
            raise SlackError("msg_blocks_too_many")
        _check_sections(blocks)
        message.streaming = False
        return {"channel": message.channel, "ts": message.ts}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "ts")
        message = self._messages.get((str(args["channel"]), str(args["ts"])))
        if message is None:
            # chat.update page: message_not_found, "No message exists with the requested timestamp".
            raise SlackError("message_not_found")
        self._expire(message)
        # chat.update page: streaming_state_conflict, "The message is currently streaming text and
        # cannot be edited".
        if message.streaming:
            raise SlackError("streaming_state_conflict")
        message.text = _check_text_and_blocks(args, UPDATE_TEXT_LIMIT)
        return {"channel": message.channel, "ts": message.ts}

    def _react(self, method: str, args: dict[str, Any]) -> None:
        _require(args, "channel", "timestamp", "name")
        key = (str(args["channel"]), str(args["timestamp"]), str(args["name"]))
        if method == "reactions.add":
            # reactions.add page: already_reacted, "The specified item already has the
            # user/reaction combination".
            if key in self._reactions:
                raise SlackError("already_reacted")
            self._reactions.add(key)
        else:
            # reactions.remove page: no_reaction.
            if key not in self._reactions:
                raise SlackError("no_reaction")
            self._reactions.discard(key)

    def _exchange_trigger(self, args: dict[str, Any]) -> None:
        # views.open page: expired_trigger_id, exchanged_trigger_id, invalid_trigger_id; a trigger
        # lives 3 seconds and is exchanged once.
        _require(args, "view")
        trigger_id = str(args.get("trigger_id") or "")
        if not trigger_id:
            raise SlackError("invalid_trigger_id")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:  # written by hand in a test, not minted by trigger_id(): let it be
            return
        if trigger.exchanged:
            raise SlackError("exchanged_trigger_id")
        if time.time() - trigger.issued > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id")
        trigger.exchanged = True

    def _replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """conversations.replies: the thread's parent, then its replies, oldest first."""
        replies = [
            {
                "type": "message",
                "ts": m.ts,
                "thread_ts": thread_ts,
                "text": m.text,
                "bot_id": BOT_ID,
                "user": BOT_USER_ID,
            }
            for m in self._messages.values()
            if m.channel == channel and m.thread_ts == thread_ts and m.ts != thread_ts
        ]
        parent = {"type": "message", "ts": thread_ts, "thread_ts": thread_ts, "user": "UALICE01"}
        return [parent, *sorted(replies, key=lambda m: m["ts"])]

    def _next_ts(self) -> str:
        return f"1800000000.{next(self._ts):06d}"

    # -- files and hooks ------------------------------------------------------------

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


def _require(args: dict[str, Any], *names: str) -> None:
    """A required argument missing: Slack's common error invalid_arguments
    (https://docs.slack.dev/apis/web-api/#errors)."""
    if any(args.get(name) in (None, "") for name in names):
        raise SlackError("invalid_arguments")


def _stream_text(args: dict[str, Any], *, required: bool) -> str:
    text = args.get("markdown_text")
    if text is None or text == "":
        if required:
            raise SlackError("markdown_text_required")
        return ""
    # chat.startStream / appendStream / stopStream pages: "Limit this field to 12,000 characters."
    if len(str(text)) > STREAM_TEXT_LIMIT:
        raise SlackError("msg_too_long")
    return str(text)


# The chunk types of the streaming methods (chat.appendStream page, "Using the chunks
# parameter") and the four states of a task_update chunk (its `status`).
_CHUNK_TYPES = {"markdown_text", "task_update", "plan_update", "blocks"}
TASK_STATUSES = ("pending", "in_progress", "complete", "error")


def _stream_chunks(args: dict[str, Any]) -> list[dict[str, Any]]:
    """The call's `chunks`, refused as Slack refuses a malformed one (`invalid_arguments`,
    the error every method page lists for "invalid arguments"): an unknown type; a
    task_update without its id or title or with a status other than the four documented;
    a source that is not a URL source element (type url, url and text:
    https://docs.slack.dev/reference/block-kit/block-elements/url-source-element)."""
    chunks = _as_list(args.get("chunks")) or []
    for chunk in chunks:
        if not isinstance(chunk, dict) or chunk.get("type") not in _CHUNK_TYPES:
            raise SlackError("invalid_arguments")
        if chunk["type"] == "markdown_text" and len(str(chunk.get("text", ""))) > STREAM_TEXT_LIMIT:
            raise SlackError("msg_too_long")
        if chunk["type"] != "task_update":
            continue
        if not chunk.get("id") or not chunk.get("title"):
            raise SlackError("invalid_arguments")
        if chunk.get("status") not in TASK_STATUSES:
            raise SlackError("invalid_arguments")
        for source in chunk.get("sources") or []:
            if not isinstance(source, dict) or source.get("type") != "url":
                raise SlackError("invalid_arguments")
            if not source.get("url") or not source.get("text"):
                raise SlackError("invalid_arguments")
    return chunks


def _show_tasks(message: _Message, chunks: list[dict[str, Any]]) -> None:
    """A task_update chunk adds its card, or updates the card of the same id."""
    for chunk in chunks:
        if chunk["type"] == "task_update":
            message.tasks[str(chunk["id"])] = chunk
            message.task_log.append((str(chunk["id"]), str(chunk["status"])))


def _check_text_and_blocks(args: dict[str, Any], limit: int) -> str:
    text = str(args.get("text") or "")
    blocks = _as_list(args.get("blocks"))
    # chat.postMessage / chat.update pages: no_text when neither text nor blocks are given.
    if not text and not blocks:
        raise SlackError("no_text")
    if len(text) > limit:
        raise SlackError("msg_too_long")
    if blocks is not None:
        # Block Kit: at most 50 blocks a message; a message over it is invalid_blocks.
        if len(blocks) > MAX_BLOCKS:
            raise SlackError("invalid_blocks")
        _check_sections(blocks)
    return text


def _check_sections(blocks: list[dict[str, Any]]) -> None:
    # Section block page: text at most 3000 characters; a longer one makes the blocks invalid.
    for block in blocks:
        if block.get("type") == "section":
            text = (block.get("text") or {}).get("text") or ""
            if len(text) > SECTION_TEXT_LIMIT:
                raise SlackError("invalid_blocks")


def _as_list(value: Any) -> list[dict[str, Any]] | None:
    """A JSON array argument: a list in a JSON body, a JSON string in a form body."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = json.loads(value)
    return list(value)


async def _read_args(request: Request) -> dict[str, Any]:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        return dict(json.loads(body)) if body else {}
    return dict(parse_qsl(body.decode()))
