"""Wire the helpdesk side: webhook routes and the job runner per configured vendor,
and Zendesk tickets for escalations."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import httpx
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import Route

from bot.attachments.fetching import HttpImageFetcher
from bot.conversation.escalation import TicketOpener
from bot.conversation.factory import build_diagnoser
from bot.conversation.history import HistoryStore
from bot.engine.protocol import Engine
from bot.errors import ConfigError
from bot.intake.jobs import JobStore
from bot.observability.metrics import Metrics
from bot.safety.filters import ReplyFilter
from bot.safety.image_checks import ImageInspector
from bot.safety.redaction import Redactor
from bot.safety.url_policy import PublicHostPolicy
from bot.settings import Settings
from handlers.webhooks.notes import IntercomNotes, JiraNotes, NotePoster, ZendeskNotes
from handlers.webhooks.routes import webhook_routes
from handlers.webhooks.runner import JobRunner
from handlers.webhooks.signatures import Provider
from handlers.webhooks.tickets import ZendeskTickets


@dataclass(frozen=True)
class Webhooks:
    routes: list[Route]
    runner: JobRunner


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _note_posters(
    settings: Settings, http_client: httpx.AsyncClient
) -> tuple[dict[str, NotePoster], dict[str, dict[str, str]]]:
    """Who posts the internal note for each vendor, and the headers its downloads need."""
    notes: dict[str, NotePoster] = {}
    headers: dict[str, dict[str, str]] = {}
    if zendesk := settings.zendesk_api():
        notes[Provider.ZENDESK] = ZendeskNotes(
            http_client, base_url=zendesk.base_url, email=zendesk.email, token=zendesk.token
        )
    if settings.intercom_token and settings.intercom_admin_id:
        notes[Provider.INTERCOM] = IntercomNotes(
            http_client,
            base_url=settings.intercom_url,
            token=settings.intercom_token.get_secret_value(),
            admin_id=settings.intercom_admin_id,
        )
    if jira := settings.jira_api():
        notes[Provider.JIRA] = JiraNotes(
            http_client, base_url=jira.base_url, email=jira.email, token=jira.token
        )
        # Jira serves attachments only to an authenticated user.
        basic = base64.b64encode(f"{jira.email}:{jira.token}".encode()).decode()
        headers[Provider.JIRA] = {"Authorization": f"Basic {basic}"}
    return notes, headers


def build_webhooks(
    settings: Settings,
    *,
    engine: Engine,
    history: HistoryStore,
    jobs: JobStore,
    redactor: Redactor,
    reply_filter: ReplyFilter,
    inspector: ImageInspector,
    http_client: httpx.AsyncClient,
    metrics: Metrics,
    slack_client: AsyncWebClient,
) -> Webhooks | None:
    """Helpdesk webhooks for every provider with a secret set; None when there are none."""
    secrets = {
        Provider.ZENDESK: _secret(settings.zendesk_webhook_secret),
        Provider.INTERCOM: _secret(settings.intercom_webhook_secret),
        Provider.JIRA: _secret(settings.jira_webhook_secret),
        Provider.GENERIC: _secret(settings.generic_webhook_secret),
    }
    enabled = {provider: secret for provider, secret in secrets.items() if secret}
    if not enabled:
        return None
    policy = PublicHostPolicy(
        settings.webhook_attachment_hosts, allowed_networks=settings.webhook_allowed_networks
    )
    notes, headers = _note_posters(settings, http_client)
    diagnosers = {
        provider.value: build_diagnoser(
            settings,
            engine=engine,
            history=history,
            fetcher=HttpImageFetcher(
                client=http_client,
                policy=policy,
                headers=headers.get(provider),
                max_bytes=settings.max_image_bytes,
                inspector=inspector,
            ),
            redactor=redactor,
            reply_filter=reply_filter,
        )
        for provider in enabled
    }
    runner = JobRunner(
        jobs,
        diagnosers=diagnosers,
        notes=notes,
        metrics=metrics,
        slack=(slack_client, settings.webhook_slack_channel)
        if settings.webhook_slack_channel
        else None,
    )
    return Webhooks(webhook_routes(secrets=enabled, jobs=jobs, metrics=metrics), runner)


def build_ticket_opener(settings: Settings, http_client: httpx.AsyncClient) -> TicketOpener | None:
    """Zendesk ticket creation for escalations, when `ESCALATION_TICKETS` is on."""
    if not settings.escalation_tickets:
        return None
    zendesk = settings.zendesk_api()
    if zendesk is None:
        raise ConfigError(
            "ESCALATION_TICKETS needs ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN"
        )
    return ZendeskTickets(
        http_client, base_url=zendesk.base_url, email=zendesk.email, token=zendesk.token
    )
