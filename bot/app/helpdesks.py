"""Wire the helpdesk side: webhook routes and the job runner per configured vendor,
and Zendesk tickets for escalations."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import Route

from bot.attachments.fetching import HttpImageFetcher
from bot.conversation.error_lines import ErrorLineStore
from bot.conversation.escalation import TicketOpener
from bot.conversation.factory import build_diagnoser
from bot.conversation.grounding import Retriever
from bot.conversation.history import HistoryStore
from bot.engine.protocol import Engine
from bot.errors import ConfigError
from bot.intake.deliveries import DeliveryLog
from bot.intake.jobs import JobStore
from bot.observability.metrics import Metrics
from bot.safety.filters import ReplyFilter
from bot.safety.image_checks import ImageInspector
from bot.safety.redaction import Redactor
from bot.safety.url_policy import PublicHostPolicy
from bot.settings import Settings
from handlers.helpdesks.registry import (
    REGISTRY,
    HelpdeskClients,
    HelpdeskSettings,
    Registry,
    build_vendors,
)
from handlers.helpdesks.zendesk.helpdesk import NAME as ZENDESK
from handlers.helpdesks.zendesk.tickets import ZendeskTickets
from handlers.webhooks.routes import webhook_routes
from handlers.webhooks.runner import JobRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Webhooks:
    routes: list[Route]
    runner: JobRunner


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_webhooks(
    settings: Settings,
    desks: HelpdeskSettings,
    *,
    engine: Engine,
    history: HistoryStore,
    jobs: JobStore,
    deliveries: DeliveryLog,
    error_lines: ErrorLineStore,
    redactor: Redactor,
    reply_filter: ReplyFilter,
    inspector: ImageInspector,
    http_client: httpx.AsyncClient,
    helpdesk_clients: HelpdeskClients,
    metrics: Metrics,
    slack_client: AsyncWebClient,
    retriever: Retriever | None = None,
    registry: Registry = REGISTRY,
) -> Webhooks | None:
    """Helpdesk webhooks for every route with a secret set; None when there are none.

    `http_client` downloads attachments; `helpdesk_clients` call each vendor's API;
    `registry` lists the helpdesks (the shipped ones unless another list is given), `desks`
    holds each one's own settings.
    `error_lines` is the store the Slack side reads screenshots' error lines through.
    """
    enabled: dict[str, str] = registry.webhook_secrets(desks)
    if not enabled:
        return None
    for provider, missing in registry.webhooks_without_notes(desks).items():
        log.warning(
            "the %s webhook is on but its notes cannot be posted: %s not set",
            provider,
            ", ".join(missing),
        )
    policy = PublicHostPolicy(
        settings.webhook_attachment_hosts, allowed_networks=settings.webhook_allowed_networks
    )
    vendors = build_vendors(settings, desks, helpdesk_clients, registry)
    diagnosers = {
        helpdesk: build_diagnoser(
            settings,
            engine=engine,
            history=history,
            fetcher=HttpImageFetcher(
                client=http_client,
                policy=policy,
                credentials=vendors.credentials_for(helpdesk),
                max_bytes=settings.max_image_bytes,
                inspector=inspector,
            ),
            redactor=redactor,
            reply_filter=reply_filter,
            error_lines=error_lines,
            retriever=retriever,
        )
        for helpdesk in {registry.helpdesk_name(route) for route in enabled}
    }
    runner = JobRunner(
        jobs,
        diagnosers=diagnosers,
        notes=vendors.notes,
        helpdesks=vendors.helpdesks,
        metrics=metrics,
        slack=(slack_client, settings.webhook_slack_channel)
        if settings.webhook_slack_channel
        else None,
        attempts=settings.helpdesk_job_attempts,
        first_retry_seconds=settings.helpdesk_retry_seconds,
    )
    routes = webhook_routes(
        secrets=enabled,
        helpdesks=registry,
        jobs=jobs,
        metrics=metrics,
        deliveries=deliveries,
        redactor=redactor,
        read_token=_secret(settings.jobs_read_token),
    )
    return Webhooks(routes, runner)


def build_ticket_opener(
    settings: Settings, helpdesk_clients: HelpdeskClients
) -> TicketOpener | None:
    """Zendesk ticket creation for escalations, when `ESCALATION_TICKETS` is on."""
    if not settings.escalation_tickets:
        return None
    zendesk = helpdesk_clients.get(ZENDESK)
    if zendesk is None:
        raise ConfigError(
            "ESCALATION_TICKETS needs ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN"
        )
    return ZendeskTickets(zendesk)
