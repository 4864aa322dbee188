"""The one small interface every helpdesk package implements, and the parts they share.

A helpdesk is one vendor's package (`zendesk`, `jira`, `intercom`, `generic`): which webhook
routes it answers, its own settings (a pydantic-settings model, read from the environment
beside `Settings` by the composition root), its configured API client, and the parts the job
runner uses (note writer, own-write guard, download credentials) and `doctor` checks.
The registry (`registry.py`) lists them; nothing else names a vendor.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.attachments.credentials import Credentials, NoCredentials, OriginCredentials
from bot.conversation.turns import SkippedAttachment
from bot.knowledge.sources.registry import VendorCredentials
from bot.messages import Message, say
from bot.settings import Settings, is_http_url
from handlers.webhooks.helpdesk_api import HelpdeskApi, NotePoster, Read, WebhookRoute
from handlers.webhooks.ids import TicketFormat, segment
from handlers.webhooks.payloads import TicketEvent

NOTE_HEADER = "supportbot diagnosis (internal)"


def _api_base_url(value: str) -> str:
    """A helpdesk API's base URL: http(s) with a host, and nothing that would travel in it
    besides: the API token goes in a header, so no user:password, query or fragment."""
    if not is_http_url(value):
        raise ValueError("must be the http(s) URL of the helpdesk, e.g. https://acme.zendesk.com")
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials: the API token setting holds them")
    if parts.query or parts.fragment:
        raise ValueError("must be the helpdesk's base URL, with no query or fragment")
    return value


def _account_email(value: str) -> str:
    """The API account's email for HTTP Basic auth: one @ with a name before it and a domain
    after, no spaces or colons (a colon would split the Basic credentials, RFC 7617)."""
    name, at, domain = value.rpartition("@")
    if not at or not name or "." not in domain or any(c.isspace() or c == ":" for c in value):
        raise ValueError("must be the API account's email address, e.g. support@acme.com")
    return value


ApiBaseUrl = Annotated[str, AfterValidator(_api_base_url)]
AccountEmail = Annotated[str, AfterValidator(_account_email)]


class VendorSettings(BaseSettings):
    """A helpdesk's own settings, read as `Settings` is: each field from the upper-case env var
    of its name (or `.env`); a field's name starts with its vendor's, so no two vendors share a
    variable."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


S = TypeVar("S", bound=VendorSettings)


def note_marker(job_id: str) -> str:
    """The last line of job `job_id`'s note, by which it is found on the ticket."""
    return f"[supportbot job {job_id}]"


def note_text(answer: str, skipped: tuple[SkippedAttachment, ...], job_id: str = "") -> str:
    """Every note's text: the header (how the bot knows its own note), the files it could not
    read, the answer, and the job's marker line."""
    notes = [say(Message.SKIPPED_FILE, filename=s.filename, reason=s.reason) for s in skipped]
    lines = [NOTE_HEADER, "", *notes, *([""] if notes else []), answer]
    return "\n".join([*lines, "", note_marker(job_id)] if job_id else lines)


def basic_authorization(user: str, token: str) -> str:
    """The `Authorization` value of HTTP Basic auth (RFC 7617), the one way it is built: the
    API clients and the download credentials both send it."""
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


@dataclass(frozen=True)
class Connection:
    """Where a helpdesk's API is and how to sign in: one configured client per vendor.

    Args:
        base_url: the vendor's API origin (the operator's `*_URL`).
        headers: sent with every call (Authorization, a pinned API version).
        timeout: seconds for one call (`HELPDESK_TIMEOUT_SECONDS`).
    """

    base_url: str
    headers: Mapping[str, str]
    timeout: float

    def client(self, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
        """A client for this API only; paths are relative to `base_url`."""
        return httpx.AsyncClient(
            base_url=self.base_url.rstrip("/"),
            headers=dict(self.headers),
            timeout=self.timeout,
            transport=transport,
        )


def basic_connection(base_url: str, user: str, token: str, settings: Settings) -> Connection:
    """A Basic-auth API (Zendesk's and Jira's API tokens) at `base_url`."""
    return Connection(
        base_url,
        {"Authorization": basic_authorization(user, token)},
        settings.helpdesk_timeout_seconds,
    )


def download_credentials(
    connection: Connection | None, paths: tuple[str, ...]
) -> OriginCredentials:
    """The API's own auth, sent only to its download `paths` on its own origin."""
    assert connection is not None  # parts are built only for a configured API
    return OriginCredentials(connection.base_url, connection.headers, paths=paths)


@dataclass(frozen=True)
class TestDelivery:
    """What a vendor sends for a new ticket, as docs/helpdesks.md sets it up (`send-test`)."""

    body: dict[str, Any]
    timestamp: str  # as the vendor writes it in its signature header
    headers: Mapping[str, str]  # besides the signature: the vendor's delivery id, say


def unix_now() -> str:
    return str(int(time.time()))


def test_id() -> str:
    """A fresh delivery id, so that each test is a new delivery."""
    return f"supportbot-test-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Parts:
    """What the job runner gets from a configured helpdesk."""

    notes: NotePoster
    guard: HelpdeskApi
    credentials: Credentials


@dataclass(frozen=True)
class IdentityCheck:
    """How `doctor` asks a helpdesk whom its credentials belong to."""

    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
    describe: Callable[[httpx.Response], str]  # raises ValueError/KeyError on an odd answer
    fix: str


class Helpdesk(Protocol[S]):
    """One vendor. Adding a helpdesk is one package implementing this plus one registry line.

    `S` is its settings model; the registry reads it and hands each helpdesk its own."""

    @property
    def name(self) -> str:
        """The helpdesk (the `provider` its jobs carry; stored, so it never changes)."""
        ...

    @property
    def settings_model(self) -> type[S]:
        """Its own settings (`VendorSettings`); a route's secret and its API are read there."""
        ...

    @property
    def routes(self) -> tuple[WebhookRoute, ...]:
        """Each webhook route it answers (route names are unique across all helpdesks)."""
        ...

    @property
    def api_settings(self) -> tuple[tuple[str, Read], ...]:
        """The settings its API needs before notes can be posted (empty: no API)."""
        ...

    @property
    def ticket_format(self) -> TicketFormat:
        """Its ticket ids, checked before one goes near an API URL."""
        ...

    def sign(self, route: str, secret: str, body: bytes, timestamp: str) -> dict[str, str]:
        """The headers the vendor sends with `body` on `route` (tests and `send-test`)."""
        ...

    def verify(
        self, route: str, secret: str, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> bool:
        """Whether `headers` carry a valid, fresh signature (or token) of `body`."""
        ...

    def delivery_id(self, route: str, headers: Mapping[str, str], body: Any) -> str | None:
        """The vendor's id of this delivery, unchanged across its redeliveries; None if none."""
        ...

    def test_delivery(self, route: str, ticket: str, text: str) -> TestDelivery:
        """What it sends on `route` for a new ticket `ticket` saying `text`."""
        ...

    def read(self, route: str, body: Any) -> TicketEvent:
        """The ticket in a delivery to `route` (one of `routes`), from its parsed JSON body.

        Raises:
            NotATicket: an event the bot does not answer.
            UnreadableTicket: an event for the bot whose body lacks what it needs.
            BadTicketId: the ticket id is missing or not in the vendor's format.
        """
        ...

    def connection(self, own: S, settings: Settings) -> Connection | None:
        """Its API client's configuration (`settings` holds the shared timeout); None while
        `api_settings` are not all set."""
        ...

    def parts(self, client: httpx.AsyncClient, own: S, settings: Settings) -> Parts:
        """Its note writer, own-write guard and download credentials over `client`."""
        ...

    def identity_check(self, own: S) -> IdentityCheck:
        """What `doctor` asks it."""
        ...

    def article_credentials(self, own: S) -> dict[str, VendorCredentials]:
        """The accounts its settings hold for the knowledge sources of those names (a
        vendor's help-centre articles); empty when none is set."""
        ...


class WebhookOnly:
    """The API side of a helpdesk that has none (the generic webhook): no settings, no client,
    so the runner posts no note and `doctor` asks it nothing; the answer is the job's result."""

    api_settings: tuple[tuple[str, Read], ...] = ()

    def connection(self, own: object, settings: Settings) -> Connection | None:
        return None

    def parts(self, client: httpx.AsyncClient, own: object, settings: Settings) -> Parts:
        raise TypeError("a webhook-only helpdesk has no API")  # never built: no connection

    def identity_check(self, own: object) -> IdentityCheck:
        raise TypeError("a webhook-only helpdesk has no API")

    def article_credentials(self, own: object) -> dict[str, VendorCredentials]:
        return {}


class NoteFormat(Protocol):
    """What differs between vendors' notes: the request that adds one, how to find it again."""

    ticket_format: TicketFormat

    def request(self, ticket: str, text: str, job_id: str) -> tuple[str, str, dict[str, Any]]:
        """Method, path and JSON body of the call that adds `text` as an internal note on
        `ticket` (already checked and quoted as one path segment)."""
        ...

    async def has_note(self, client: httpx.AsyncClient, ticket: str, job_id: str) -> bool:
        """Whether job `job_id`'s note is on `ticket` already."""
        ...


class Notes:
    """The one note writer: checks the ticket id, writes the note's text, sends the vendor's
    request, and looks for a note whose POST may have been lost. Implements `NotePoster`."""

    def __init__(self, client: httpx.AsyncClient, note_format: NoteFormat) -> None:
        self._client = client
        self._format = note_format

    def _ticket(self, value: str) -> str:
        # The id again in its vendor's format: a job stored before the check existed is
        # refused here with a clear error rather than turned into another API path.
        return segment(self._format.ticket_format.check(value))

    async def post(
        self,
        ticket_id: str,
        answer: str,
        skipped: tuple[SkippedAttachment, ...],
        *,
        job_id: str = "",
    ) -> None:
        method, path, body = self._format.request(
            self._ticket(ticket_id), note_text(answer, skipped, job_id), job_id
        )
        response = await self._client.request(method, path, json=body)
        response.raise_for_status()

    async def exists(self, ticket_id: str, job_id: str) -> bool:
        return await self._format.has_note(self._client, self._ticket(ticket_id), job_id)


def is_bot_note(text: str) -> bool:
    """Whether `text` is one of the bot's notes (it starts with the header)."""
    return text.lstrip().startswith(NOTE_HEADER)


NO_CREDENTIALS = NoCredentials()
