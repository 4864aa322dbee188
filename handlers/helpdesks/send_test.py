"""`supportbot send-test`: send a signed test delivery to a running bot and report its job.

It sends what the helpdesk would send once set up as docs/helpdesks.md says (the
same body shape, signed the same way with the configured secret), so a 202 and a
`done` job show that the secret, the route and the helpdesk API credentials all
work. The note it leads to is real: point it at a test ticket.
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.errors import ConfigError
from handlers.helpdesks.registry import REGISTRY, Registry

ENDED = frozenset({"done", "dead", "failed"})


@dataclass(frozen=True)
class CheckResult:
    """What happened: the webhook's answer, and the job's last view (None if never read)."""

    status_code: int
    answer: dict[str, Any]
    job: dict[str, Any] | None
    unreachable: str | None = None  # why the bot could not be reached, if it could not

    @property
    def answered(self) -> bool:
        """The job ended done (whether or not its helpdesk took a note)."""
        return (
            self.status_code in {200, 202}
            and self.job is not None
            and (self.job.get("state") == "done")
        )

    def ok(self, provider: str, registry: Registry = REGISTRY) -> bool:
        """Done, and the note is on the ticket (a helpdesk with no API, such as the generic
        webhook, takes no notes)."""
        if not registry.helpdesk_of(provider).api_settings:
            return self.answered
        return self.answered and self.job is not None and self.job.get("note_posted") is True


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(base_url: str) -> None:
    """Refuse a plain-http URL to another machine: the delivery carries the webhook secret
    (Jira automation's token header) and the job is read with a bearer token, both readable
    by anyone on the way. https anywhere, or http to this machine, is fine."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"--url {base_url!r} is not an http(s) URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(
            f"refusing to send the webhook secret over plain http to {parts.hostname}: "
            "use an https --url, or run send-test on the bot's own machine"
        )


def signed_request(
    provider: str, secret: str, ticket: str, text: str, registry: Registry = REGISTRY
) -> tuple[bytes, dict[str, str]]:
    """The bytes and headers `provider`'s vendor sends for a new ticket, signed with `secret`."""
    delivery = registry.helpdesk_of(provider).test_delivery(provider, ticket, text)
    raw = json.dumps(delivery.body).encode()
    signed = registry.sign(provider, secret, raw, delivery.timestamp)
    return raw, signed | dict(delivery.headers) | {"Content-Type": "application/json"}


def send_test_delivery(
    *,
    base_url: str,
    provider: str,
    secret: str,
    read_token: str,
    ticket: str,
    text: str,
    wait_seconds: float,
    report: Callable[[str], None],
    client: httpx.Client | None = None,
) -> CheckResult:
    """POST a signed test ticket to `base_url`, then follow its job until it ends or time runs out.

    Args:
        secret: the route's webhook secret, to sign the delivery.
        read_token: what `GET /jobs/{id}` is read with (JOBS_READ_TOKEN, or the secret of a
            route that signs its deliveries).

    Raises:
        ConfigError: `base_url` is plain http to another machine.

    Example:
        >>> send_test_delivery(base_url="http://127.0.0.1:3000", provider="zendesk",
        ...     secret="…", read_token="…", ticket="12345", text="test", wait_seconds=120,
        ...     report=print)
    """
    check_url(base_url)
    # A unique line makes each check a new job (deliveries are deduplicated by body).
    text = f"{text}\n(supportbot connection test {uuid.uuid4().hex[:8]})"
    raw, headers = signed_request(provider, secret, ticket, text)
    http = client or httpx.Client(timeout=15)
    try:
        url = f"{base_url.rstrip('/')}/webhooks/{provider}"
        report(f"POST {url}")
        try:
            response = http.post(url, content=raw, headers=headers)
        except httpx.TransportError as error:
            return CheckResult(0, {}, None, unreachable=_first_line(error))
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            answer = {"body": response.text[:500]}
        report(f"-> {response.status_code} {json.dumps(answer, ensure_ascii=False)}")
        job_id = answer.get("job")
        if response.status_code not in {200, 202} or not isinstance(job_id, str):
            return CheckResult(response.status_code, answer, None)
        try:
            job = _follow(http, base_url, job_id, read_token, wait_seconds, report)
        except httpx.TransportError as error:
            return CheckResult(response.status_code, answer, None, unreachable=_first_line(error))
        return CheckResult(response.status_code, answer, job)
    finally:
        if client is None:
            http.close()


def _follow(
    http: httpx.Client,
    base_url: str,
    job_id: str,
    read_token: str,
    wait_seconds: float,
    report: Callable[[str], None],
) -> dict[str, Any] | None:
    url = f"{base_url.rstrip('/')}/jobs/{job_id}"
    deadline = time.monotonic() + wait_seconds
    last_state = None
    view: dict[str, Any] | None = None
    while True:
        response = http.get(url, headers={"Authorization": f"Bearer {read_token}"})
        if response.status_code != 200:
            report(f"GET {url} -> {response.status_code} {response.text[:300]}")
            return view
        view = response.json()
        if view.get("state") != last_state:
            last_state = view.get("state")
            report(f"job {job_id}: {last_state} (attempt {view.get('attempts', '?')})")
        if last_state in ENDED or time.monotonic() >= deadline:
            return view
        time.sleep(1.0)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
