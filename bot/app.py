"""The composition root: every part of supportbot is built here from one `Settings`.

Each part can be passed in instead (a started engine, a Redis client, an HTTP
transport), which is how tests and other deployments swap real parts for others.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.routing import Route

from bot.attachments.fetching import AttachmentFetcher, HttpImageFetcher
from bot.conversation.channel_policy import ChannelPolicy
from bot.conversation.diagnosis import Diagnoser
from bot.conversation.escalation import CaseStore
from bot.conversation.feedback import FeedbackStore
from bot.conversation.history import HistoryStore
from bot.conversation.knowledge import KnowledgeBase
from bot.conversation.prompting import PromptBuilder
from bot.conversation.summaries import ThreadSummarizer
from bot.engine.device import gpu_memory_bytes
from bot.engine.protocol import Engine, EngineState
from bot.engine.remote import RemoteEngine
from bot.engine.transformers_engine import TransformersEngine
from bot.errors import ConfigError
from bot.intake.handled_events import HandledEvents
from bot.intake.jobs import JobStore
from bot.intake.rate_limit import RateLimiter
from bot.intake.work_log import WorkLog
from bot.observability.metrics import Metrics
from bot.safety.filters import RedactingFilter
from bot.safety.image_checks import ImageInspector
from bot.safety.links import LinkGuard
from bot.safety.redaction import RedactionStats, Redactor
from bot.safety.sensitive_words import SensitiveWords
from bot.safety.url_policy import PrefixPolicy, PublicHostPolicy
from bot.safety.virus_scan import ClamdScanner
from bot.settings import EngineKind, Settings
from bot.stores.cases import InMemoryCaseStore, RedisCaseStore
from bot.stores.feedback import InMemoryFeedbackStore, RedisFeedbackStore
from bot.stores.handled_events import InMemoryHandledEvents, RedisHandledEvents
from bot.stores.history import InMemoryHistoryStore, RedisHistoryStore
from bot.stores.jobs import InMemoryJobStore, RedisJobStore
from bot.stores.knowledge import InMemoryKnowledgeBase, RedisKnowledgeBase
from bot.stores.rate_limit import InMemoryRateLimiter, RedisRateLimiter
from bot.stores.resilience import (
    RedisOutage,
    ResilientCases,
    ResilientHandledEvents,
    ResilientHistory,
    ResilientRateLimiter,
)
from bot.stores.work_log import InMemoryWorkLog, RedisWorkLog
from handlers.http import Readiness, build_http_app
from handlers.slack.answering import RateLimits, SlackAnswerer
from handlers.slack.app import build_bolt_app
from handlers.slack.escalation import EscalationDesk
from handlers.slack.recovery import redeliver_unanswered
from handlers.slack.retries import slack_retry_handlers
from handlers.slack.thread_reply import StreamingSupport
from handlers.slack.token_check import check_token
from handlers.webhooks.notes import IntercomNotes, JiraNotes, NotePoster, ZendeskNotes
from handlers.webhooks.routes import webhook_routes
from handlers.webhooks.runner import JobRunner
from handlers.webhooks.signatures import Provider
from handlers.webhooks.tickets import TicketOpener, ZendeskTickets

log = logging.getLogger(__name__)


def build_engine(settings: Settings, metrics: Metrics | None = None) -> Engine:
    """The in-process engine for `MODEL`, or the remote one with `ENGINE=remote`."""
    settings.require_engine()
    if settings.engine is EngineKind.REMOTE:
        assert settings.engine_url is not None
        key = settings.engine_api_key
        return RemoteEngine(
            settings.engine_url,
            settings.engine_model or settings.model_id,
            api_key=key.get_secret_value() if key else None,
            max_new_tokens=settings.max_new_tokens,
            context_window=settings.max_context_tokens,
            max_in_flight=settings.max_waiting,
        )
    return TransformersEngine(
        settings.model_id,
        device=settings.device,
        dtype=settings.dtype.value,
        max_new_tokens=settings.max_new_tokens,
        max_image_pixels=settings.max_image_pixels,
        max_context_tokens=settings.max_context_tokens,
        max_waiting=settings.max_waiting,
        max_batch=settings.max_batch,
        batch_token_budget=settings.batch_token_budget,
        batch_window_seconds=settings.batch_window_ms / 1000,
        prefix_cache_bytes=settings.prefix_cache_bytes,
        observe=metrics.observe if metrics is not None else None,
        lora_adapter=settings.lora_adapter,
        decode_mode=settings.decode_mode,
    )


def build_redis(settings: Settings) -> Redis | None:
    """A Redis client with explicit timeouts, or None when `REDIS_URL` is unset."""
    if settings.redis_url is None:
        return None
    # Short, explicit timeouts and retries: no call waits long on a Redis that is down.
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=2.0,
        socket_connect_timeout=1.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        decode_responses=False,
    )


@dataclass(frozen=True)
class Stores:
    """Everything kept between messages: in Redis, or in memory without `REDIS_URL`."""

    history: HistoryStore
    handled: HandledEvents
    feedback: FeedbackStore
    limiter: RateLimiter
    jobs: JobStore
    cases: CaseStore
    knowledge: KnowledgeBase
    work_log: WorkLog


def build_stores(settings: Settings, redis: Redis | None, metrics: Metrics) -> Stores:
    """Stores in Redis (each on the answer path degrading while Redis is down), or in memory."""
    if redis is None:
        log.info("REDIS_URL is not set: history, dedup, feedback and rates live in memory")
        return Stores(
            history=InMemoryHistoryStore(
                max_turns=settings.history_max_turns, ttl_seconds=settings.history_ttl_seconds
            ),
            handled=InMemoryHandledEvents(lease_seconds=int(settings.work_lease_seconds)),
            feedback=InMemoryFeedbackStore(),
            limiter=InMemoryRateLimiter(),
            jobs=InMemoryJobStore(),
            cases=InMemoryCaseStore(),
            knowledge=InMemoryKnowledgeBase(),
            work_log=InMemoryWorkLog(),
        )
    prefix = settings.redis_key_prefix
    outage = RedisOutage(metrics)
    history = RedisHistoryStore(
        redis,
        prefix=prefix,
        max_turns=settings.history_max_turns,
        ttl_seconds=settings.history_ttl_seconds,
    )
    return Stores(
        history=ResilientHistory(history, outage),
        handled=ResilientHandledEvents(
            RedisHandledEvents(
                redis, prefix=prefix, lease_seconds=int(settings.work_lease_seconds)
            ),
            outage,
        ),
        feedback=RedisFeedbackStore(redis, prefix=prefix),
        limiter=ResilientRateLimiter(RedisRateLimiter(redis, prefix=prefix), outage),
        jobs=RedisJobStore(redis, prefix=prefix),
        cases=ResilientCases(RedisCaseStore(redis, prefix=prefix), outage),
        knowledge=RedisKnowledgeBase(redis, prefix=prefix),
        work_log=RedisWorkLog(redis, prefix=prefix),
    )


def build_redactor(settings: Settings, stats: RedactionStats | None = None) -> Redactor:
    """Secrets, personal data and the operator's sensitive words (`SENSITIVE_WORDS_FILE`)."""
    words = None
    if settings.sensitive_words_file is not None:
        words = SensitiveWords.from_file(settings.sensitive_words_file)
        log.info("loaded %d sensitive words", words.count)
    return Redactor(words=words, stats=stats)


def build_inspector(settings: Settings) -> ImageInspector:
    """Image checks, with clamd scanning first when `CLAMD_ADDRESS` is set."""
    scanner = ClamdScanner(settings.clamd_address) if settings.clamd_address else None
    return ImageInspector(
        max_pixels=settings.max_decode_pixels, scanner=scanner, fail_open=settings.clamd_fail_open
    )


def build_diagnoser(
    settings: Settings,
    *,
    engine: Engine,
    history: HistoryStore,
    fetcher: AttachmentFetcher,
    redactor: Redactor,
    knowledge: KnowledgeBase | None = None,
) -> Diagnoser:
    return Diagnoser(
        engine=engine,
        history=history,
        fetcher=fetcher,
        prompts=PromptBuilder(max_new_tokens=settings.max_new_tokens),
        reply_filter=RedactingFilter(redactor, links=LinkGuard(settings.link_allowed_hosts)),
        redactor=redactor,
        max_images_per_turn=settings.max_images_per_turn,
        knowledge=knowledge,
        queue_timeout=settings.queue_timeout_seconds,
        generation_timeout=settings.generation_timeout_seconds,
    )


@dataclass
class Supportbot:
    """Everything `supportbot serve` runs; `asgi` is the app to hand to an ASGI server."""

    settings: Settings
    engine: Engine
    redis: Redis | None
    answerer: SlackAnswerer
    http_client: httpx.AsyncClient
    bolt: AsyncApp | None = None
    webhooks: Webhooks | None = None
    work_log: WorkLog | None = None
    owns_engine: bool = True
    metrics: Metrics = field(default_factory=Metrics)
    slack_client: AsyncWebClient | None = None
    asgi: Starlette = field(init=False)
    _engine_start: asyncio.Task[None] | None = field(default=None, repr=False)
    _socket_mode: AsyncSocketModeHandler | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        secret = self.settings.slack_signing_secret
        self.asgi = build_http_app(
            slack=self.bolt if secret is not None else None,
            signing_secret=secret.get_secret_value() if secret else None,
            readiness=self.readiness,
            metrics=self.metrics,
            lifespan=self.lifespan,
            max_request_bytes=self.settings.max_request_bytes,
            extra_routes=self.webhooks.routes if self.webhooks else None,
        )

    async def readiness(self) -> Readiness:
        history = "memory"
        if self.redis is not None:
            try:
                await self.redis.ping()
                history = "ready"
            except (RedisError, OSError) as error:
                history = f"unreachable: {type(error).__name__}"
        model = self.engine.state.value
        if self.engine.state is EngineState.FAILED:
            model = f"failed: {self.engine.failure}"
        return Readiness(model=model, history=history)

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        # The model loads in the background so /healthz answers while it does.
        self._engine_start = asyncio.create_task(self.engine.start(), name="load-model")
        if self.slack_client is not None:
            await check_token(self.slack_client)
        background = []
        if self.webhooks:
            background.append(
                asyncio.create_task(self.webhooks.runner.run_forever(), name="helpdesk-jobs")
            )
        if self.work_log is not None and self.bolt is not None and self.redis is not None:
            background.append(
                asyncio.create_task(
                    redeliver_unanswered(
                        self.bolt,
                        self.work_log,
                        lease_seconds=self.settings.work_lease_seconds,
                        every_seconds=self.settings.recovery_interval_seconds,
                    ),
                    name="slack-recovery",
                )
            )
        app_token = self.settings.slack_app_token
        if app_token is not None and self.bolt is not None:
            # Made here, not in build_app: its aiohttp session needs the running loop.
            self._socket_mode = AsyncSocketModeHandler(self.bolt, app_token.get_secret_value())
            await self._socket_mode.connect_async()
            log.info("connected to Slack by Socket Mode")
        try:
            yield
        finally:
            if self._socket_mode is not None:
                await self._socket_mode.close_async()
            # A job cut short stays in flight in Redis and is resumed at the next start.
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            # SIGTERM: uvicorn stops taking requests, then answers in flight get a grace period.
            await self.answerer.drain(self.settings.shutdown_grace_seconds)
            if self.owns_engine:
                await self.engine.close()
            await self.http_client.aclose()
            if self.redis is not None:
                await self.redis.aclose()


def build_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    redis: Redis | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    update_interval: float = 1.0,
) -> Supportbot:
    """Build supportbot from `settings`; pass a part to use it instead of building it.

    Args:
        settings: the configuration (`Settings()` reads it from the environment).
        engine: a model runner; built from `MODEL` when None.
        redis: a Redis client; built from `REDIS_URL` when None (and none without it).
        http_transport: httpx transport for file downloads (default: the network).
        update_interval: least seconds between two edits of a streamed answer.

    Example:
        >>> bot = build_app(Settings())
        >>> uvicorn.run(bot.asgi, port=bot.settings.port)
    """
    settings.require_slack()
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value()
    metrics = Metrics()
    owns_engine = engine is None
    engine = engine or build_engine(settings, metrics)
    running_engine = engine
    metrics.gauge(
        "supportbot_engine_queue_depth",
        lambda: running_engine.queue_depth,
        "Requests waiting for the model or using it",
    )
    metrics.gauge("supportbot_gpu_memory_bytes", gpu_memory_bytes, "GPU memory PyTorch holds")
    if isinstance(engine, TransformersEngine):
        prefixes = engine.prefixes
        metrics.gauge(
            "supportbot_engine_prefix_cache_bytes",
            lambda: prefixes.nbytes,
            "Bytes of threads' computed prompts kept for their follow-ups",
        )
        local_engine = engine
        metrics.gauge(
            "supportbot_engine_decode_cache_bytes",
            lambda: local_engine.decode_cache_bytes,
            "Bytes of the running answers' key/value slots",
        )
    redis = redis if redis is not None else build_redis(settings)
    stores = build_stores(settings, redis, metrics)
    http_client = httpx.AsyncClient(
        transport=http_transport, timeout=httpx.Timeout(30.0, connect=5.0)
    )
    fetcher = HttpImageFetcher(
        client=http_client,
        policy=PrefixPolicy(settings.slack_file_url_prefixes),
        headers={"Authorization": f"Bearer {token}"},
        max_bytes=settings.max_image_bytes,
        inspector=build_inspector(settings),
    )
    redactor = build_redactor(settings, metrics.redactions)
    diagnoser = build_diagnoser(
        settings,
        engine=engine,
        history=stores.history,
        fetcher=fetcher,
        redactor=redactor,
        knowledge=stores.knowledge,
    )
    desk = EscalationDesk(
        cases=stores.cases,
        history=stores.history,
        knowledge=stores.knowledge,
        summarizer=ThreadSummarizer(
            engine=engine,
            history=stores.history,
            reply_filter=RedactingFilter(redactor, links=LinkGuard(settings.link_allowed_hosts)),
        ),
        channel=settings.escalation_channel,
        usergroup=settings.escalation_usergroup,
        metrics=metrics,
        tickets=build_ticket_opener(settings, http_client),
    )
    answerer = SlackAnswerer(
        diagnoser,
        stores.handled,
        limiter=stores.limiter,
        limits=RateLimits(
            per_user=settings.rate_limit_per_user, per_channel=settings.rate_limit_per_channel
        ),
        metrics=metrics,
        streaming=StreamingSupport(enabled=settings.slack_streaming),
        update_interval=update_interval,
        desk=desk if settings.escalation_channel else None,
        work_log=stores.work_log,
    )
    slack_client = build_slack_client(settings, token, metrics)
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    policy = (
        ChannelPolicy.from_file(settings.channel_config)
        if settings.channel_config
        else ChannelPolicy()
    )
    webhooks = build_webhooks(
        settings,
        engine=engine,
        history=stores.history,
        jobs=stores.jobs,
        redactor=redactor,
        http_client=http_client,
        metrics=metrics,
        slack_client=slack_client,
    )
    bolt = build_bolt_app(
        client=slack_client,
        signing_secret=signing_secret,
        answerer=answerer,
        policy=policy,
        feedback=stores.feedback,
        work_log=stores.work_log,
    )
    return Supportbot(
        settings=settings,
        engine=engine,
        redis=redis,
        answerer=answerer,
        http_client=http_client,
        bolt=bolt,
        webhooks=webhooks,
        work_log=stores.work_log,
        owns_engine=owns_engine,
        metrics=metrics,
        slack_client=slack_client,
    )


def build_slack_client(settings: Settings, token: str, metrics: Metrics) -> AsyncWebClient:
    """A Web API client that waits out 429s (honouring Retry-After) and retries 5xx."""
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url)
    client.retry_handlers.extend(slack_retry_handlers(metrics))
    return client


@dataclass(frozen=True)
class Webhooks:
    routes: list[Route]
    runner: JobRunner


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_webhooks(
    settings: Settings,
    *,
    engine: Engine,
    history: HistoryStore,
    jobs: JobStore,
    redactor: Redactor,
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
    notes: dict[str, NotePoster] = {}
    headers: dict[str, dict[str, str]] = {}
    if settings.zendesk_url and settings.zendesk_email and settings.zendesk_api_token:
        notes[Provider.ZENDESK] = ZendeskNotes(
            http_client,
            base_url=settings.zendesk_url,
            email=settings.zendesk_email,
            token=settings.zendesk_api_token.get_secret_value(),
        )
    if settings.intercom_token and settings.intercom_admin_id:
        notes[Provider.INTERCOM] = IntercomNotes(
            http_client,
            base_url=settings.intercom_url,
            token=settings.intercom_token.get_secret_value(),
            admin_id=settings.intercom_admin_id,
        )
    if settings.jira_url and settings.jira_email and settings.jira_api_token:
        token = settings.jira_api_token.get_secret_value()
        notes[Provider.JIRA] = JiraNotes(
            http_client, base_url=settings.jira_url, email=settings.jira_email, token=token
        )
        # Jira serves attachments only to an authenticated user.
        basic = base64.b64encode(f"{settings.jira_email}:{token}".encode()).decode()
        headers[Provider.JIRA] = {"Authorization": f"Basic {basic}"}
    inspector = build_inspector(settings)
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
    if not (settings.zendesk_url and settings.zendesk_email and settings.zendesk_api_token):
        raise ConfigError(
            "ESCALATION_TICKETS needs ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN"
        )
    return ZendeskTickets(
        http_client,
        base_url=settings.zendesk_url,
        email=settings.zendesk_email,
        token=settings.zendesk_api_token.get_secret_value(),
    )
