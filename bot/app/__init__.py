"""The composition root: every part of supportbot is built here from one `Settings` and
each helpdesk's own settings (read beside it, by the helpdesk registry).

It only wires. Each package builds its own parts from `Settings`
(`bot.stores.factory`, `bot.safety.factory`, `bot.conversation.factory`); the
modules here choose the engine (`engine`), wire Slack (`slack`) and the
helpdesks (`helpdesks`), and hold the running bot (`supportbot`). This is the
one place in `bot/` that imports `handlers/`.

Each part can be passed in instead (a started engine, a Redis client, an HTTP
transport), which is how tests and other deployments swap real parts for others.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
from redis.asyncio import Redis

from bot.app.engine import build_engine, watch_engine
from bot.app.helpdesks import build_ticket_opener, build_webhooks
from bot.app.knowledge import build_knowledge
from bot.app.slack import (
    build_answerer,
    build_bolt,
    build_desk,
    build_slack_client,
    build_slack_file_fetcher,
)
from bot.app.supportbot import Supportbot
from bot.conversation.factory import build_diagnoser, build_summarizer
from bot.engine.protocol import Engine
from bot.observability.metrics import Metrics
from bot.safety.factory import build_inspector, build_redactor, build_reply_filter
from bot.settings import Settings
from bot.stores.factory import build_redis, build_stores
from handlers.helpdesks.registry import REGISTRY, HelpdeskClients, HelpdeskSettings, Registry

__all__ = ["Supportbot", "build_app", "build_engine"]


def build_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    redis: Redis | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    update_interval: float = 1.0,
    helpdesks: Registry = REGISTRY,
    helpdesk_settings: HelpdeskSettings | None = None,
) -> Supportbot:
    """Build supportbot from `settings`; pass a part to use it instead of building it.

    Args:
        settings: the configuration (`Settings()` reads it from the environment).
        engine: a model runner; built from `MODEL` when None.
        redis: a Redis client; built from `REDIS_URL` when None (and none without it).
        http_transport: httpx transport for file downloads (default: the network).
        update_interval: least seconds between two edits of a streamed answer.
        helpdesks: the helpdesks whose webhooks it answers (default: the shipped ones).
        helpdesk_settings: each helpdesk's own settings (ZENDESK_URL, …); read from the
            environment beside `settings` when None.

    Example:
        >>> bot = build_app(Settings())
        >>> uvicorn.run(bot.asgi, port=bot.settings.port)
    """
    settings.require_slack()
    desks = helpdesk_settings if helpdesk_settings is not None else helpdesks.settings()
    metrics = Metrics()
    owns_engine = engine is None
    engine = engine or build_engine(settings, metrics)
    watch_engine(metrics, engine)
    redis = redis if redis is not None else build_redis(settings)
    stores = build_stores(settings, redis, metrics)
    http_client = httpx.AsyncClient(
        transport=http_transport, timeout=httpx.Timeout(30.0, connect=5.0)
    )
    helpdesk_clients = HelpdeskClients.build(settings, desks, http_transport, helpdesks)
    redactor = build_redactor(settings, metrics.redactions)
    reply_filter = build_reply_filter(settings, redactor)
    knowledge = build_knowledge(
        settings,
        redactor=redactor,
        metrics=metrics,
        resolutions=stores.knowledge,
        credentials=helpdesks.article_credentials(desks),
    )
    retriever = knowledge.retriever if knowledge is not None else None
    if knowledge is not None and knowledge.resolutions is not None:
        # Resolutions are one more source of the index: the desk's new ones enter it at
        # once, and the diagnosis finds them among the passages, in one ranking.
        stores = replace(stores, knowledge=knowledge.resolutions)
    inspector = build_inspector(settings)
    slack_client = build_slack_client(settings, metrics)
    diagnoser = build_diagnoser(
        settings,
        engine=engine,
        history=stores.history,
        fetcher=build_slack_file_fetcher(settings, http_client, inspector),
        redactor=redactor,
        reply_filter=reply_filter,
        error_lines=stores.error_lines,
        knowledge=stores.knowledge if knowledge is None else None,
        retriever=retriever,
    )
    desk = build_desk(
        settings,
        stores=stores,
        summarizer=build_summarizer(
            engine=engine, history=stores.history, reply_filter=reply_filter
        ),
        tickets=build_ticket_opener(settings, helpdesk_clients),
        metrics=metrics,
    )
    answerer = build_answerer(
        settings,
        diagnoser=diagnoser,
        stores=stores,
        desk=desk,
        metrics=metrics,
        update_interval=update_interval,
    )
    webhooks = build_webhooks(
        settings,
        desks,
        engine=engine,
        history=stores.history,
        jobs=stores.jobs,
        deliveries=stores.deliveries,
        error_lines=stores.error_lines,
        redactor=redactor,
        reply_filter=reply_filter,
        inspector=inspector,
        http_client=http_client,
        helpdesk_clients=helpdesk_clients,
        metrics=metrics,
        slack_client=slack_client,
        retriever=retriever,
        registry=helpdesks,
    )
    return Supportbot(
        settings=settings,
        engine=engine,
        redis=redis,
        answerer=answerer,
        http_client=http_client,
        helpdesk_clients=helpdesk_clients,
        bolt=build_bolt(
            settings,
            client=slack_client,
            answerer=answerer,
            stores=stores,
            desk=desk,
            redactor=redactor,
            metrics=metrics,
        ),
        webhooks=webhooks,
        work_log=stores.work_log,
        owns_engine=owns_engine,
        metrics=metrics,
        slack_client=slack_client,
        knowledge=knowledge,
    )
