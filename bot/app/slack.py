"""Wire the Slack side: the Web API client, the answerer, the escalation desk, the Bolt app."""

from __future__ import annotations

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.attachments.credentials import for_prefixes
from bot.attachments.fetching import HttpImageFetcher
from bot.conversation.channel_policy import ChannelPolicy
from bot.conversation.diagnosis import Diagnoser
from bot.conversation.escalation import TicketOpener
from bot.conversation.summaries import ThreadSummarizer
from bot.observability.metrics import Metrics
from bot.safety.image_checks import ImageInspector
from bot.safety.redaction import Redactor
from bot.safety.url_policy import PrefixPolicy
from bot.settings import Settings
from bot.stores.factory import Stores
from handlers.slack.answering import RateLimits, SlackAnswerer
from handlers.slack.app import build_bolt_app
from handlers.slack.escalation import EscalationDesk
from handlers.slack.retries import slack_retry_handlers
from handlers.slack.thread_reply import StatusSupport, StreamingSupport


def build_slack_client(settings: Settings, metrics: Metrics) -> AsyncWebClient:
    """A Web API client that waits out 429s (honouring Retry-After) and retries 5xx."""
    assert settings.slack_bot_token is not None  # require_slack() said so
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    client.retry_handlers.extend(slack_retry_handlers(metrics))
    return client


def build_slack_file_fetcher(
    settings: Settings, http_client: httpx.AsyncClient, inspector: ImageInspector
) -> HttpImageFetcher:
    """Downloads of Slack files: only from Slack's file URLs, with the bot token."""
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value()
    return HttpImageFetcher(
        client=http_client,
        policy=PrefixPolicy(settings.slack_file_url_prefixes),
        credentials=for_prefixes(
            settings.slack_file_url_prefixes, {"Authorization": f"Bearer {token}"}
        ),
        max_bytes=settings.max_image_bytes,
        inspector=inspector,
    )


def build_desk(
    settings: Settings,
    *,
    stores: Stores,
    summarizer: ThreadSummarizer,
    tickets: TicketOpener | None,
    metrics: Metrics,
) -> EscalationDesk | None:
    """The escalation desk when `ESCALATION_CHANNEL` is set; None otherwise. One desk serves
    the answerer (a person asked for) and the listeners (the buttons, escalated threads)."""
    if not settings.escalation_channel:
        return None
    return EscalationDesk(
        cases=stores.cases,
        history=stores.history,
        knowledge=stores.knowledge,
        summarizer=summarizer,
        channel=settings.escalation_channel,
        usergroup=settings.escalation_usergroup,
        metrics=metrics,
        tickets=tickets,
        limiter=stores.limiter,
    )


def build_answerer(
    settings: Settings,
    *,
    diagnoser: Diagnoser,
    stores: Stores,
    desk: EscalationDesk | None,
    metrics: Metrics,
    update_interval: float,
) -> SlackAnswerer:
    """Answers Slack questions, handing them to `desk` when a person is asked for."""
    return SlackAnswerer(
        diagnoser,
        stores.handled,
        limiter=stores.limiter,
        limits=RateLimits(
            per_user=settings.rate_limit_per_user, per_channel=settings.rate_limit_per_channel
        ),
        metrics=metrics,
        streaming=StreamingSupport(enabled=settings.slack_streaming, limiter=stores.limiter),
        status=StatusSupport(enabled=settings.slack_thread_status),
        update_interval=update_interval,
        desk=desk,
        work_log=stores.work_log,
    )


def build_bolt(
    settings: Settings,
    *,
    client: AsyncWebClient,
    answerer: SlackAnswerer,
    stores: Stores,
    desk: EscalationDesk | None,
    redactor: Redactor,
    metrics: Metrics,
) -> AsyncApp:
    """The Bolt app with every listener, under the channel policy (`CHANNEL_CONFIG`); each
    listener is given what it uses (the history, the desk, the redactor), not the answerer's."""
    policy = (
        ChannelPolicy.from_file(settings.channel_config)
        if settings.channel_config
        else ChannelPolicy()
    )
    return build_bolt_app(
        client=client,
        answerer=answerer,
        policy=policy,
        feedback=stores.feedback,
        greetings=stores.greetings,
        threads=stores.history,
        redactor=redactor,
        metrics=metrics,
        desk=desk,
        work_log=stores.work_log,
        ack_budget_seconds=settings.slack_ack_budget_seconds,
    )
