"""`POST /webhooks/{provider}` (signed tickets in, answered 202 at once) and `GET /jobs/{id}`."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.intake.deliveries import DeliveryLog
from bot.intake.jobs import Job, JobStore
from bot.observability import catalogue
from bot.observability.metrics import Metrics
from bot.safety.redaction import Redactor
from handlers.webhooks.helpdesk_api import Inbound
from handlers.webhooks.ids import BadTicketId
from handlers.webhooks.payloads import AUTOMATION_KIND, NotATicket, UnreadableTicket

log = logging.getLogger(__name__)


def webhook_routes(
    *,
    secrets: Mapping[str, str],
    helpdesks: Inbound,
    jobs: JobStore,
    metrics: Metrics,
    deliveries: DeliveryLog,
    redactor: Redactor | None = None,
    read_token: str | None = None,
) -> list[Route]:
    """Routes for the webhooks with a secret configured (by route name); the others answer 404.

    `helpdesks` names the routes and their helpdesks, checks each delivery's signature, reads
    its body and finds its delivery id as its vendor documents them
    (`handlers.helpdesks.registry.Registry`).

    The ticket's text and attachment names are redacted before the job is stored.
    `GET /jobs/{id}` answers only `Authorization: Bearer <token>` with `read_token` or
    the webhook secret of a route of the job's helpdesk; a job made by a token-only delivery
    (Jira automation's, whose token travels in a header anyone holding it can send) only with
    `read_token`, and that token reads no job. A delivery is one job: the same body (a
    replay) maps to the same job id, and the same vendor delivery id (a redelivery whose
    body changed) to the job it made first.
    """
    redactor = redactor or Redactor()

    async def receive(request: Request) -> Response:
        provider = request.path_params["provider"]
        if helpdesks.route(provider) is None:
            return JSONResponse({"error": "unknown provider"}, status_code=404)
        secret = secrets.get(provider)
        if not secret:
            return JSONResponse({"error": f"{provider} webhooks are not configured"}, 404)
        body = await request.body()
        if not helpdesks.verify(provider, secret, body, request.headers):
            metrics.count(catalogue.WEBHOOKS, provider=provider, outcome="bad_signature")
            return JSONResponse({"error": "missing, invalid or stale signature"}, status_code=401)
        try:
            data = json.loads(body)
            event = helpdesks.parse(provider, data)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:  # NotATicket too
            if isinstance(error, NotATicket):
                return JSONResponse({"ignored": str(error)}, status_code=202)
            if isinstance(error, UnreadableTicket):
                # For the bot but unreadable: a 4xx the vendor's webhook log shows as failed.
                metrics.count(catalogue.WEBHOOKS_UNREADABLE, provider=provider)
                log.warning("unreadable %s delivery refused: %s", provider, error)
                return JSONResponse(
                    {"error": str(error), "field": error.field, "expected": error.shape},
                    status_code=422,
                )
            if isinstance(error, BadTicketId):
                return JSONResponse({"error": str(error)}, status_code=400)
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        job_id = hashlib.sha256(provider.encode() + b":" + body).hexdigest()[:24]
        if vendor_id := helpdesks.delivery_id(provider, request.headers, data):
            first = await deliveries.claim(provider, vendor_id, job_id)
            # A claim whose job was never recorded (the store failed after it) does not count.
            if first is not None and await jobs.get(first) is not None:
                metrics.count(catalogue.WEBHOOKS, provider=provider, outcome="duplicate")
                return JSONResponse(
                    {"job": first, "duplicate": True, "status_url": f"/jobs/{first}"},
                    status_code=200,
                )
        # What Redis keeps (for 30 days) is redacted; the model sees the same redacted text.
        attachments = tuple(
            replace(a, name=redactor.redact(a.name, count=False)) for a in event.attachments
        )
        job = Job(
            job_id,
            helpdesks.helpdesk_name(provider),
            event.ticket_id,
            await redactor.redact_off_loop(event.text),  # a ticket's text may be long
            attachments,
            actor_id=event.actor_id,
            comment_id=event.comment_id,
            kind=event.kind,
        )
        created = await jobs.submit(job)
        metrics.count(
            catalogue.WEBHOOKS,
            provider=provider,
            outcome="accepted" if created else "duplicate",
        )
        return JSONResponse(
            {"job": job_id, "duplicate": not created, "status_url": f"/jobs/{job_id}"},
            status_code=202 if created else 200,
        )

    # Signing secrets never travel with a delivery; a token-only route's token does.
    signing = {r: s for r, s in secrets.items() if not _token_only(helpdesks, r)}

    async def job_status(request: Request) -> Response:
        token = _bearer(request)
        if token is None or not _any_equal(token, [read_token, *signing.values()]):
            return JSONResponse(
                {"error": "a job's status needs its webhook secret or the read token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        job = await jobs.get(request.path_params["job_id"])
        # A route's secret reads the jobs of its helpdesk (Jira automation's, Jira's jobs).
        allowed = [read_token]
        if job is not None and job.kind != AUTOMATION_KIND:
            allowed += [s for r, s in signing.items() if helpdesks.helpdesk_name(r) == job.provider]
        if job is None or not _any_equal(token, allowed):
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(job.public_view())

    return [
        Route("/webhooks/{provider}", receive, methods=["POST"]),
        Route("/jobs/{job_id}", job_status, methods=["GET"]),
    ]


def _token_only(helpdesks: Inbound, name: str) -> bool:
    route = helpdesks.route(name)
    return route is None or route.token_only  # a secret for no route signs nothing either


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _any_equal(given: str, candidates: list[str | None]) -> bool:
    """Constant-time comparison against every configured credential."""
    matched = False
    for candidate in candidates:
        if candidate:
            matched |= hmac.compare_digest(given.encode(), candidate.encode())
    return matched
