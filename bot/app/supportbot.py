"""The running bot: its ASGI app, readiness, and what starts and stops with it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.app.helpdesks import Webhooks
from bot.app.knowledge import KnowledgeBase
from bot.engine.protocol import Engine, EngineState
from bot.errors import first_line
from bot.intake.work_log import WorkLog
from bot.observability.metrics import Metrics
from bot.printable_urls import without_userinfo
from bot.settings import Settings
from handlers.helpdesks.registry import HelpdeskClients
from handlers.http import Readiness, build_http_app
from handlers.slack.answering import SlackAnswerer
from handlers.slack.recovery import redeliver_unanswered
from handlers.slack.token_check import check_token

log = logging.getLogger(__name__)


@dataclass
class Supportbot:
    """Everything `supportbot serve` runs; `asgi` is the app to hand to an ASGI server."""

    settings: Settings
    engine: Engine
    redis: Redis | None
    answerer: SlackAnswerer
    http_client: httpx.AsyncClient
    helpdesk_clients: HelpdeskClients = field(default_factory=HelpdeskClients)
    bolt: AsyncApp | None = None
    webhooks: Webhooks | None = None
    work_log: WorkLog | None = None
    owns_engine: bool = True
    metrics: Metrics = field(default_factory=Metrics)
    slack_client: AsyncWebClient | None = None
    knowledge: KnowledgeBase | None = None
    on_fatal: Callable[[str], None] | None = None
    """Called with the reason when the model can never load; `serve` stops the process."""
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
                history = f"unreachable at {redis_address(self.redis)}: {first_line(error)}"
                history = without_userinfo(history)
        model = self.engine.state.value
        if self.engine.state is EngineState.FAILED:
            # A remote engine's failure names its URL, which may carry user:password@.
            model = without_userinfo(f"failed: {self.engine.failure}")
        elif self.engine.state is EngineState.LOADING and self.engine.progress:
            model = f"loading: {self.engine.progress}"
        return Readiness(model=model, history=history)

    async def _load_model(self) -> None:
        await self.engine.start()
        if self.engine.state is not EngineState.FAILED or self.engine.recoverable:
            return  # a recoverable engine reports its own failures as they come and go
        reason = self.engine.failure or "the model failed to load"
        if self.on_fatal is not None:
            self.on_fatal(reason)
        else:
            log.error("%s", reason)

    async def _say_where_history_lives(self) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.ping()
            log.info("history in Redis at %s", redis_address(self.redis))
        except (RedisError, OSError) as error:
            # Not fatal: Redis may come up after us; /readyz says so until it answers.
            log.warning(
                "Redis at %s does not answer (%s); /readyz stays 503 until it does",
                redis_address(self.redis),
                first_line(error),
            )

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        # The model loads in the background so /healthz answers while it does.
        self._engine_start = asyncio.create_task(self._load_model(), name="load-model")
        await self._say_where_history_lives()
        if self.slack_client is not None:
            await check_token(self.slack_client)
        background = []
        if self.knowledge is not None:
            background.append(
                asyncio.create_task(
                    self.knowledge.sync_forever(self.settings.knowledge_sync_minutes * 60),
                    name="knowledge-sync",
                )
            )
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
            # The job runner hands its unfinished job back as it is cancelled.
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            # SIGTERM: uvicorn stops taking requests, then answers in flight get a grace period.
            await self.answerer.drain(self.settings.shutdown_grace_seconds)
            if self.owns_engine:
                await self.engine.close()
            await self.http_client.aclose()
            await self.helpdesk_clients.aclose()
            if self.redis is not None:
                await self.redis.aclose()


def redis_address(redis: Redis) -> str:
    """host:port (or the socket path) `redis` connects to, for messages; never the password."""
    options = redis.connection_pool.connection_kwargs
    if "path" in options:
        return str(options["path"])
    return f"{options.get('host', 'localhost')}:{options.get('port', 6379)}"
