"""Fake Zendesk, Jira and Intercom APIs over real HTTP, in one server, behaving as documented.

Each rule below cites the vendor page it follows. In short:
- every API call needs the vendor's credentials (401 without);
- attachments live on a separate host (`FakeAttachmentHost`, 127.0.0.2): Zendesk's
  `content_url` needs the API token and answers 302 to it, Jira's attachment content
  answers 303 to it unless `redirect=false`, Intercom's links point at it, signed;
- the bot's own writes fire the vendor's events back at the bot, signed like the
  vendor signs them (Zendesk trigger / `ticket.comment_added`, Jira `comment_created`,
  Intercom `conversation.admin.noted`), and every delivery's answer is recorded;
- note posts fail on demand as the vendors document:
  - 429 with the vendor's wait: Zendesk and Jira send `Retry-After` (seconds), Intercom
    `X-RateLimit-Reset` (unix time); a request sent before the wait is over is refused
    again (Jira: "the request will fail and return the same or longer Retry-After
    period") and counted in `early_requests`;
    https://developer.zendesk.com/api-reference/introduction/rate-limits/
    https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
    https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting
  - a 5xx, or a 4xx refusal (400/401/403/404/422) that a retry would meet again;
  - a slow answer: the note is applied, the answer comes after the caller gave up
    (what a client timeout looks like from the other side).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from handlers.helpdesks.registry import REGISTRY
from tests.support.fake_attachment_host import FakeAttachmentHost

ZENDESK_EMAIL = "agent@acme.test"
ZENDESK_TOKEN = "zd-token"
ZENDESK_BOT_USER = 7001
JIRA_EMAIL = "agent@acme.test"
JIRA_TOKEN = "jira-token"
JIRA_BOT_ACCOUNT = "5b10ac8d82e05b22cc7d4ef5"
INTERCOM_TOKEN = "ic-token"
INTERCOM_ADMIN = "991"

TRIGGER_BODY = (
    Path(__file__).resolve().parents[2] / "deploy" / "zendesk" / "trigger-body.json"
).read_text()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class ReceivedNote:
    provider: str
    ticket_id: str
    body: dict[str, Any]
    authorization: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The note's text, whatever the vendor's body shape."""
        if self.provider == "zendesk":
            return str(self.body["ticket"]["comment"]["body"])
        if self.provider == "jira":
            return _adf_plain(self.body["body"])
        return str(self.body["body"])


@dataclass(frozen=True)
class Delivery:
    """An event the fake sent to the bot, and what the bot answered."""

    provider: str
    status: int
    answer: dict[str, Any]


def render_placeholders(template: str, context: dict[str, Any]) -> str:
    """Zendesk's rendering of a webhook body: the attachments loop, then `{{placeholders}}`,
    each value escaped for the JSON string it sits in.
    https://support.zendesk.com/hc/en-us/articles/4408886858138-Zendesk-placeholders-reference
    """

    def loop(match: re.Match[str]) -> str:
        items = context.get(match.group(1), [])
        rendered = []
        for index, item in enumerate(items):
            inner = match.group(2)
            last = index == len(items) - 1
            separator = "" if last else r"\1"
            inner = re.sub(r"{% unless forloop.last %}(.*?){% endunless %}", separator, inner)
            rendered.append(render_placeholders(inner, {**context, **item}))
        return "".join(rendered)

    template = re.sub(
        r"{% for attachment in ([\w.]+) %}(.*?){% endfor %}", loop, template, flags=re.S
    )
    return re.sub(
        r"{{\s*([\w.]+)\s*}}",
        lambda m: json.dumps(str(context.get(m.group(1), "")))[1:-1],
        template,
    )


class FakeHelpdesk:
    """Zendesk, Jira and Intercom on one origin, files on `files` (a separate host)."""

    def __init__(self, files: FakeAttachmentHost | None = None) -> None:
        self._lock = threading.Lock()
        self.files = files or FakeAttachmentHost()
        self.url = ""  # set by the test once served
        self._notes: list[ReceivedNote] = []
        self._plain_files: dict[str, bytes] = {}
        self._failures: list[int] = []  # statuses to answer the next note posts with
        self._throttled = 0
        self.retry_after = 1
        self._blocked_until: dict[str, float] = {}
        self._slow: list[float] = []
        self.early_requests = 0
        self.note_attempts: list[tuple[str, str, int]] = []  # provider, ticket, status answered
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries: list[Delivery] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        # Where the bot listens, and which echoes of its own writes the helpdesk sends.
        self.bot_url = ""
        self.secrets: dict[str, str] = {}
        self.zendesk_trigger: str | None = None  # "any update" or "shipped"
        self.trigger_runs: list[tuple[int, bool]] = []  # (ticket, fired) per update
        self.zendesk_comment_events = False
        self.jira_comment_events = False
        self.intercom_note_events = False
        # Vendor state
        self._next_id = 100
        self.zendesk_tickets: dict[str, dict[str, Any]] = {}
        self.zendesk_blobs: dict[str, str] = {}  # attachment token -> blob id
        self.jira_issues: dict[str, dict[str, Any]] = {}
        self.jira_comments: dict[str, dict[str, Any]] = {}
        self.jira_blobs: dict[str, str] = {}  # attachment id -> blob id
        self.intercom_conversations: dict[str, dict[str, Any]] = {}
        self.intercom_blobs: dict[str, str] = {}  # part id + name -> blob id
        self.uploads: list[tuple[str, bytes]] = []
        self.tickets: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                # Zendesk
                Route("/api/v2/tickets/{ticket}.json", self._zendesk_note, methods=["PUT"]),
                Route("/api/v2/users/me.json", self._zendesk_me, methods=["GET"]),
                Route(
                    "/api/v2/tickets/{ticket}/comments.json",
                    self._zendesk_comments,
                    methods=["GET"],
                ),
                Route("/attachments/token/{token}/", self._zendesk_content, methods=["GET"]),
                Route("/access/unauthenticated", self._sign_in_page, methods=["GET"]),
                Route("/api/v2/uploads.json", self._zendesk_upload, methods=["POST"]),
                Route("/api/v2/tickets.json", self._zendesk_create, methods=["POST"]),
                # Jira
                Route("/rest/api/3/issue/{key}/comment", self._jira_note, methods=["POST"]),
                Route("/rest/api/3/issue/{key}/comment", self._jira_comments, methods=["GET"]),
                Route(
                    "/rest/api/3/issue/{key}/comment/{comment}",
                    self._jira_comment,
                    methods=["GET"],
                ),
                Route("/rest/api/3/myself", self._jira_myself, methods=["GET"]),
                Route("/rest/api/3/issue/{key}", self._jira_issue, methods=["GET"]),
                Route(
                    "/rest/api/3/attachment/content/{attachment}",
                    self._jira_content,
                    methods=["GET"],
                ),
                # Intercom
                Route("/conversations/{ticket}/reply", self._intercom_note, methods=["POST"]),
                Route("/conversations/{ticket}", self._intercom_conversation, methods=["GET"]),
                Route("/admins/{admin}", self._intercom_admin, methods=["GET"]),
                # Plain files for the generic webhook
                Route("/files/{name}", self._file, methods=["GET"]),
            ]
        )

    # --- test controls -------------------------------------------------------------------

    def add_file(self, name: str, data: bytes) -> None:
        """A plain file at `/files/{name}` (what a generic webhook points at)."""
        with self._lock:
            self._plain_files[name] = data

    def fail_notes(self, times: int, status: int = 500) -> None:
        """Answer the next `times` note posts with `status`, without applying them."""
        with self._lock:
            self._failures.extend([status] * times)

    def answer_notes_slowly(self, seconds: float) -> None:
        """Apply the next note post but answer it only after `seconds`."""
        with self._lock:
            self._slow.append(seconds)

    def throttle_notes(self, times: int, retry_after: int = 1) -> None:
        """Answer the next `times` note posts with a 429 and `Retry-After`.
        https://developer.zendesk.com/api-reference/introduction/rate-limits/
        https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
        """
        with self._lock:
            self._throttled = times
            self.retry_after = retry_after

    def send_events_to(self, bot_url: str, secrets: dict[str, str]) -> None:
        self.bot_url = bot_url
        self.secrets = dict(secrets)

    def notes(self, provider: str | None = None) -> list[ReceivedNote]:
        with self._lock:
            return [n for n in self._notes if provider is None or n.provider == provider]

    def deliveries_for(self, provider: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.provider == provider]

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    # --- building vendor state, and the deliveries the vendor would send ------------------

    def add_zendesk_ticket(
        self, ticket_id: int, text: str, files: list[tuple[str, bytes]], *, author: int = 555
    ) -> dict[str, Any]:
        """A ticket whose first comment (by an end user) has `files`; returns that comment."""
        attachments = []
        for name, data in files:
            token = f"tok{self._new_id()}"
            self.zendesk_blobs[token] = self.files.store(name, data)
            attachments.append(
                {
                    "id": self._new_id(),
                    "file_name": name,
                    # https://developer.zendesk.com/api-reference/ticketing/tickets/ticket-attachments/
                    "content_url": f"{self.url}/attachments/token/{token}/?name={name}",
                    "size": len(data),
                }
            )
        comment = {
            "id": self._new_id(),
            "author_id": author,
            "public": True,
            "body": text,
            "attachments": attachments,
        }
        self.zendesk_tickets[str(ticket_id)] = {"id": ticket_id, "tags": [], "comments": [comment]}
        return comment

    def zendesk_trigger_body(self, ticket_id: int, *, updater: int) -> dict[str, Any]:
        """The shipped trigger body, rendered by the fake as Zendesk renders placeholders."""
        ticket = self.zendesk_tickets[str(ticket_id)]
        latest = ticket["comments"][-1]
        context = {
            "ticket.id": ticket_id,
            "current_user.id": updater,
            "ticket.latest_comment.id": latest["id"],
            "ticket.latest_comment.author.id": latest["author_id"],
            "ticket.latest_comment.is_public": str(latest["public"]).lower(),
            "ticket.latest_comment.value": latest["body"],
            "ticket.latest_comment.attachments": [
                {"attachment.filename": a["file_name"], "attachment.url": a["content_url"]}
                for a in latest["attachments"]
            ],
        }
        result: dict[str, Any] = json.loads(render_placeholders(TRIGGER_BODY, context))
        return result

    def zendesk_comment_event(self, ticket_id: int) -> dict[str, Any]:
        """`zen:event-type:ticket.comment_added` for the ticket's latest comment.
        https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/
        """
        latest = self.zendesk_tickets[str(ticket_id)]["comments"][-1]
        return {
            "type": "zen:event-type:ticket.comment_added",
            "account_id": 22129848,
            "id": f"evt-{self._new_id()}",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{ticket_id}",
            "detail": {"id": str(ticket_id)},
            "event": {
                "comment": {
                    "id": latest["id"],
                    "body": latest["body"],
                    "is_public": latest["public"],
                    "author": {
                        "id": latest["author_id"],
                        "is_staff": latest["author_id"] == ZENDESK_BOT_USER,
                        "name": "someone",
                    },
                }
            },
        }

    def add_jira_issue(
        self, key: str, summary: str, files: list[tuple[str, bytes]], *, author: str = "cust-1"
    ) -> dict[str, Any]:
        """An issue with attachments; returns the issue as webhooks carry it."""
        issue = {
            "id": str(self._new_id()),
            "key": key,
            "self": f"{self.url}/rest/api/2/issue/{key}",
            "fields": {"summary": summary, "description": None, "attachment": []},
        }
        self.jira_issues[key] = issue
        for name, data in files:
            self.add_jira_attachment(key, name, data, author=author)
        return issue

    def add_jira_attachment(
        self, key: str, name: str, data: bytes, *, author: str = "cust-1"
    ) -> dict[str, Any]:
        attachment_id = str(self._new_id())
        self.jira_blobs[attachment_id] = self.files.store(name, data)
        attachment = {
            "id": attachment_id,
            "filename": name,
            "author": {"accountId": author},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
            "size": len(data),
            "mimeType": "image/png",
            # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/
            "content": f"{self.url}/rest/api/3/attachment/content/{attachment_id}",
        }
        self.jira_issues[key]["fields"]["attachment"].append(attachment)
        return attachment

    def jira_comment_created(
        self, key: str, text: str, *, author: str = "cust-1", comment_id: str | None = None
    ) -> dict[str, Any]:
        """`comment_created` as Jira Cloud sends it.
        https://developer.atlassian.com/cloud/jira/platform/webhooks/
        """
        comment_id = comment_id or str(self._new_id())
        comment = {
            "id": comment_id,
            "author": {"accountId": author},
            "body": text,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
        }
        self.jira_comments.setdefault(comment_id, {**comment, "properties": []})
        return {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": "comment_created",
            "comment": comment,
            "issue": self.jira_issues[key],
        }

    def jira_attachment_added(self, key: str, attachment: dict[str, Any]) -> dict[str, Any]:
        """`jira:issue_updated` whose changelog adds one attachment."""
        return {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": "jira:issue_updated",
            "user": {"accountId": attachment["author"]["accountId"]},
            "issue": self.jira_issues[key],
            "changelog": {
                "id": str(self._new_id()),
                "items": [
                    {
                        "field": "Attachment",
                        "fieldtype": "jira",
                        "fieldId": "attachment",
                        "from": None,
                        "fromString": None,
                        "to": attachment["id"],
                        "toString": attachment["filename"],
                    }
                ],
            },
        }

    def add_intercom_conversation(
        self, conversation_id: str, text: str, files: list[tuple[str, bytes]]
    ) -> dict[str, Any]:
        """A conversation a customer started with `files`; returns the webhook notification.
        https://developers.intercom.com/docs/references/webhooks/webhook-models
        """
        part_id = str(self._new_id())
        for name, data in files:
            self.intercom_blobs[f"{part_id}/{name}"] = self.files.store(name, data)
        source = {
            "type": "conversation",
            "id": part_id,
            "author": {"type": "user", "id": "cust-9"},
            "body": f"<p>{text}</p>",
            "attachments": [{"type": "upload", "name": name} for name, _ in files],
        }
        self.intercom_conversations[conversation_id] = {
            "type": "conversation",
            "id": conversation_id,
            "source": source,
            "conversation_parts": {"type": "conversation_part.list", "conversation_parts": []},
        }
        return self._intercom_notification("conversation.user.created", conversation_id)

    def _intercom_view(self, conversation_id: str) -> dict[str, Any]:
        """The conversation with attachment links signed now (they expire)."""
        conversation = json.loads(json.dumps(self.intercom_conversations[conversation_id]))
        parts = [conversation["source"], *conversation["conversation_parts"]["conversation_parts"]]
        for part in parts:
            for attachment in part.get("attachments") or []:
                blob = self.intercom_blobs[f"{part['id']}/{attachment['name']}"]
                attachment["url"] = self.files.signed_link(blob)
        return dict(conversation)

    def _intercom_notification(self, topic: str, conversation_id: str) -> dict[str, Any]:
        return {
            "type": "notification_event",
            "topic": topic,
            "id": f"notif_{self._new_id()}",
            "created_at": int(time.time()),
            "data": {
                "type": "notification_event_data",
                "item": self._intercom_view(conversation_id),
            },
        }

    # --- auth -------------------------------------------------------------------------------

    def _seen(self, request: Request) -> None:
        with self._lock:
            self.requests.append((request.method, request.url.path, dict(request.headers)))

    @staticmethod
    def _unauthorized() -> Response:
        return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401)

    def _note_refusal(self, provider: str, ticket: str) -> Response | None:
        now = time.time()
        with self._lock:
            blocked = self._blocked_until.get(provider, 0.0)
            if now < blocked:
                self.early_requests += 1
                wait = blocked - now
            elif self._throttled:
                self._throttled -= 1
                wait = float(self.retry_after)
                self._blocked_until[provider] = now + wait
            elif self._failures:
                status = self._failures.pop(0)
                self.note_attempts.append((provider, ticket, status))
                return JSONResponse({"error": f"refused with {status}"}, status_code=status)
            else:
                return None
            self.note_attempts.append((provider, ticket, 429))
        if provider == "intercom":
            # Intercom: no Retry-After, the window's reset as a unix time.
            headers = {
                "X-RateLimit-Reset": str(math.ceil(now + wait)),
                "X-RateLimit-Remaining": "0",
            }
        else:
            headers = {"Retry-After": str(math.ceil(wait))}
        return JSONResponse({"error": "APIRateLimitExceeded"}, status_code=429, headers=headers)

    async def _answered(self, provider: str, ticket: str, response: Response) -> Response:
        """Record a note post that was applied; answer late if asked to."""
        with self._lock:
            self.note_attempts.append((provider, ticket, response.status_code))
            delay = self._slow.pop(0) if self._slow else 0.0
        if delay:
            await asyncio.sleep(delay)
        return response

    async def _record(self, provider: str, ticket: str, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        note = ReceivedNote(
            provider,
            ticket,
            body,
            request.headers.get("authorization", ""),
            dict(request.headers),
        )
        with self._lock:
            self._notes.append(note)
        return body

    # --- events back to the bot -------------------------------------------------------------

    def _fire(self, provider: str, body: dict[str, Any]) -> None:
        if not self.bot_url:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(provider, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, provider: str, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            if provider == "zendesk"
            else str(int(time.time()))
        )
        headers = REGISTRY.sign(provider, self.secrets[provider], raw, stamp)
        headers["Content-Type"] = "application/json"
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                f"{self.bot_url}/webhooks/{provider}", content=raw, headers=headers
            )
        with self._lock:
            self.deliveries.append(Delivery(provider, response.status_code, response.json()))

    # --- Zendesk ----------------------------------------------------------------------------

    def _zendesk_auth(self, request: Request) -> bool:
        # API token auth: `{email}/token:{token}`.
        # https://developer.zendesk.com/api-reference/introduction/security-and-auth/
        return request.headers.get("authorization") == _basic(
            f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN
        )

    async def _zendesk_note(self, request: Request) -> Response:
        self._seen(request)
        if not self._zendesk_auth(request):
            return self._unauthorized()
        ticket_id = request.path_params["ticket"]
        if not ticket_id.isdigit():
            return JSONResponse({"error": "RecordNotFound"}, status_code=404)
        refused = self._note_refusal("zendesk", ticket_id)
        if refused:
            return refused
        body = await self._record("zendesk", ticket_id, request)
        update = body["ticket"]
        ticket = self.zendesk_tickets.setdefault(
            ticket_id, {"id": int(ticket_id), "tags": [], "comments": []}
        )
        ticket["tags"] += update.get("additional_tags") or []
        comment = {
            "id": self._new_id(),
            "author_id": ZENDESK_BOT_USER,  # the comment's author is the token's user
            "public": update["comment"].get("public", True),
            "body": update["comment"]["body"],
            "attachments": [],
        }
        ticket["comments"].append(comment)
        self._zendesk_echo(int(ticket_id), comment)
        return await self._answered(
            "zendesk",
            ticket_id,
            JSONResponse({"ticket": {"id": int(ticket_id), "tags": ticket["tags"]}}),
        )

    def _zendesk_echo(self, ticket_id: int, comment: dict[str, Any]) -> None:
        """What Zendesk sends when the bot's note updates the ticket.
        https://support.zendesk.com/hc/en-us/articles/4408886797466 (triggers run on every update)
        https://developer.zendesk.com/documentation/ticketing/reference-guides/conditions-reference/
        """
        fires = self.zendesk_trigger == "any update" or (
            # The shipped trigger's conditions: a public comment, and no `supportbot_off` tag.
            self.zendesk_trigger == "shipped"
            and comment["public"]
            and "supportbot_off" not in self.zendesk_tickets[str(ticket_id)]["tags"]
        )
        with self._lock:
            self.trigger_runs.append((ticket_id, bool(fires)))
        if fires:
            self._fire("zendesk", self.zendesk_trigger_body(ticket_id, updater=ZENDESK_BOT_USER))
        if self.zendesk_comment_events:
            self._fire("zendesk", self.zendesk_comment_event(ticket_id))

    async def _zendesk_me(self, request: Request) -> Response:
        self._seen(request)
        if not self._zendesk_auth(request):
            return self._unauthorized()
        return JSONResponse({"user": {"id": ZENDESK_BOT_USER, "role": "agent"}})

    async def _zendesk_comments(self, request: Request) -> Response:
        self._seen(request)
        if not self._zendesk_auth(request):
            return self._unauthorized()
        ticket = self.zendesk_tickets.get(request.path_params["ticket"])
        if ticket is None:
            return JSONResponse({"error": "RecordNotFound"}, status_code=404)
        comments = list(ticket["comments"])
        if request.query_params.get("sort_order") == "desc":
            comments.reverse()
        return JSONResponse({"comments": comments, "next_page": None})

    async def _zendesk_content(self, request: Request) -> Response:
        """End-user attachments need a session or the API token; with it, a 302 to a
        temporary download URL on another host.
        https://developer.zendesk.com/documentation/ticketing/managing-tickets/accessing-end-user-uploaded-attachments/
        """
        self._seen(request)
        blob = self.zendesk_blobs.get(request.path_params["token"])
        if blob is None:
            return Response(status_code=404)
        if not self._zendesk_auth(request):
            return RedirectResponse(f"{self.url}/access/unauthenticated", status_code=302)
        return RedirectResponse(self.files.signed_link(blob), status_code=302)

    async def _sign_in_page(self, request: Request) -> Response:
        return HTMLResponse("<!DOCTYPE html><html><body>Sign in to Zendesk</body></html>")

    async def _zendesk_upload(self, request: Request) -> Response:
        self._seen(request)
        if not self._zendesk_auth(request):
            return self._unauthorized()
        body = await request.body()
        with self._lock:
            self.uploads.append((request.query_params["filename"], body))
            token = f"upload-token-{len(self.uploads)}"
        return JSONResponse({"upload": {"token": token}}, status_code=201)

    async def _zendesk_create(self, request: Request) -> Response:
        self._seen(request)
        if not self._zendesk_auth(request):
            return self._unauthorized()
        body = await request.json()
        with self._lock:
            self.tickets.append(body)
            ticket_id = 9000 + len(self.tickets)
        return JSONResponse({"ticket": {"id": ticket_id}}, status_code=201)

    # --- Jira -------------------------------------------------------------------------------

    def _jira_auth(self, request: Request) -> bool:
        # Basic auth with an email and API token.
        # https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
        return request.headers.get("authorization") == _basic(JIRA_EMAIL, JIRA_TOKEN)

    async def _jira_note(self, request: Request) -> Response:
        self._seen(request)
        if not self._jira_auth(request):
            return self._unauthorized()
        key = request.path_params["key"]
        if key not in self.jira_issues:
            # Issue keys are looked up as given; anything else is not found.
            return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
        refused = self._note_refusal("jira", key)
        if refused:
            return refused
        body = await self._record("jira", key, request)
        comment_id = str(self._new_id())
        self.jira_comments[comment_id] = {
            "id": comment_id,
            "issue": key,
            "author": {"accountId": JIRA_BOT_ACCOUNT},
            "body": body["body"],
            "properties": body.get("properties") or [],
        }
        if self.jira_comment_events:
            # Jira fires comment_created for every new comment, the bot's included.
            event = self.jira_comment_created(
                key, _adf_plain(body["body"]), author=JIRA_BOT_ACCOUNT, comment_id=comment_id
            )
            self._fire("jira", event)
        return await self._answered("jira", key, JSONResponse({"id": comment_id}, status_code=201))

    async def _jira_comments(self, request: Request) -> Response:
        """Get comments: paged (`startAt`, `maxResults`, `total`), `orderBy=-created` newest
        first, properties only with `expand=properties`.
        https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-get
        """
        self._seen(request)
        if not self._jira_auth(request):
            return self._unauthorized()
        key = request.path_params["key"]
        if key not in self.jira_issues:
            return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
        comments = [
            {k: v for k, v in c.items() if k != "issue"}
            for c in self.jira_comments.values()
            if c.get("issue") == key
        ]
        if request.query_params.get("orderBy") == "-created":
            comments.reverse()
        if "properties" not in request.query_params.get("expand", ""):
            comments = [{k: v for k, v in c.items() if k != "properties"} for c in comments]
        start = int(request.query_params.get("startAt", "0"))
        size = int(request.query_params.get("maxResults", "50"))
        page = comments[start : start + size]
        return JSONResponse(
            {"startAt": start, "maxResults": size, "total": len(comments), "comments": page}
        )

    async def _jira_comment(self, request: Request) -> Response:
        self._seen(request)
        if not self._jira_auth(request):
            return self._unauthorized()
        comment = self.jira_comments.get(request.path_params["comment"])
        if comment is None:
            return JSONResponse({"errorMessages": ["not found"]}, status_code=404)
        view = {k: v for k, v in comment.items() if k != "issue"}
        if "properties" not in request.query_params.get("expand", ""):
            view.pop("properties", None)  # properties come only with expand=properties
        return JSONResponse(view)

    async def _jira_issue(self, request: Request) -> Response:
        """Get issue: 404 for an issue that does not exist (or may not be seen); `fields`
        limits the fields returned.
        https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
        """
        self._seen(request)
        if not self._jira_auth(request):
            return self._unauthorized()
        issue = self.jira_issues.get(request.path_params["key"])
        if issue is None:
            return JSONResponse(
                {
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ]
                },
                status_code=404,
            )
        view = json.loads(json.dumps(issue))
        wanted = request.query_params.get("fields")
        if wanted:
            names = set(wanted.split(","))
            view["fields"] = {k: v for k, v in view["fields"].items() if k in names}
        return JSONResponse(view)

    async def _jira_myself(self, request: Request) -> Response:
        self._seen(request)
        if not self._jira_auth(request):
            return self._unauthorized()
        return JSONResponse({"accountId": JIRA_BOT_ACCOUNT, "accountType": "atlassian"})

    async def _jira_content(self, request: Request) -> Response:
        """401 without credentials; 303 to the media host, or the bytes with `redirect=false`.
        https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/#api-rest-api-3-attachment-content-id-get
        """
        self._seen(request)
        if not self._jira_auth(request):
            return self._unauthorized()
        blob = self.jira_blobs.get(request.path_params["attachment"])
        if blob is None:
            return JSONResponse({"errorMessages": ["not found"]}, status_code=404)
        if request.query_params.get("redirect") == "false":
            async with httpx.AsyncClient() as client:
                stored = await client.get(self.files.signed_link(blob))
            return Response(stored.content, media_type="image/png")
        return RedirectResponse(self.files.signed_link(blob), status_code=303)

    # --- Intercom ---------------------------------------------------------------------------

    def _intercom_auth(self, request: Request) -> bool:
        # https://developers.intercom.com/docs/build-an-integration/learn-more/authentication
        return request.headers.get("authorization") == f"Bearer {INTERCOM_TOKEN}"

    async def _intercom_admin(self, request: Request) -> Response:
        """One admin; errors come as an `error.list`.
        https://developers.intercom.com/docs/references/2.5/rest-api/admins/view-an-admin
        """
        self._seen(request)
        if not self._intercom_auth(request):
            return JSONResponse(
                {
                    "type": "error.list",
                    "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}],
                },
                status_code=401,
            )
        if request.path_params["admin"] != INTERCOM_ADMIN:
            return JSONResponse(
                {"type": "error.list", "errors": [{"code": "not_found", "message": "Not Found"}]},
                status_code=404,
            )
        return JSONResponse({"type": "admin", "id": INTERCOM_ADMIN, "name": "Support Bot"})

    async def _intercom_note(self, request: Request) -> Response:
        self._seen(request)
        if not self._intercom_auth(request):
            return self._unauthorized()
        conversation_id = request.path_params["ticket"]
        refused = self._note_refusal("intercom", conversation_id)
        if refused:
            return refused
        body = await self._record("intercom", conversation_id, request)
        conversation = self.intercom_conversations.get(conversation_id)
        if conversation is not None and body.get("message_type") == "note":
            conversation["conversation_parts"]["conversation_parts"].append(
                {
                    "type": "conversation_part",
                    "id": str(self._new_id()),
                    "part_type": "note",
                    "body": body["body"],
                    "author": {"type": "admin", "id": body["admin_id"]},
                    "attachments": [],
                }
            )
            if self.intercom_note_events:
                notification = self._intercom_notification(
                    "conversation.admin.noted", conversation_id
                )
                self._fire("intercom", notification)
        return await self._answered(
            "intercom",
            conversation_id,
            JSONResponse({"type": "conversation", "id": conversation_id}),
        )

    async def _intercom_conversation(self, request: Request) -> Response:
        self._seen(request)
        if not self._intercom_auth(request):
            return self._unauthorized()
        conversation_id = request.path_params["ticket"]
        if conversation_id not in self.intercom_conversations:
            return JSONResponse({"type": "error.list"}, status_code=404)
        return JSONResponse(self._intercom_view(conversation_id))

    # --- plain files ------------------------------------------------------------------------

    async def _file(self, request: Request) -> Response:
        with self._lock:
            data = self._plain_files.get(request.path_params["name"])
        return Response(data, media_type="image/png") if data else Response(status_code=404)


def _adf_plain(document: Any) -> str:
    if isinstance(document, dict):
        if document.get("type") == "text":
            return str(document.get("text", ""))
        parts = [_adf_plain(child) for child in document.get("content") or []]
        return ("\n" if document.get("type") == "doc" else "").join(parts)
    return str(document)
