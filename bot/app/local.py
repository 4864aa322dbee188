"""The diagnosis over local files, for the one-shot commands (`diagnose`, `eval`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from bot.app.engine import build_engine
from bot.app.knowledge import build_knowledge
from bot.attachments.fetching import LocalFileFetcher
from bot.conversation.diagnosis import Diagnoser
from bot.conversation.factory import build_diagnoser
from bot.conversation.grounding import Retriever
from bot.engine.protocol import Engine, EngineState
from bot.errors import ModelUnavailable
from bot.knowledge.sources.registry import VendorCredentials
from bot.safety.factory import build_inspector, build_redactor, build_reply_filter
from bot.settings import Settings
from bot.stores.error_lines import InMemoryErrorLineStore
from bot.stores.history import InMemoryHistoryStore


@asynccontextmanager
async def local_engine(settings: Settings) -> AsyncIterator[Engine]:
    """The engine, started and ready; closed on exit.

    Raises:
        ModelUnavailable: the model did not load (a one-shot command does not retry
            a download for minutes: it reports why).
    """
    engine = build_engine(settings, retry_downloads=False)
    await engine.start()
    try:
        if engine.state is not EngineState.READY:
            raise ModelUnavailable(engine.failure or f"the model is {engine.state.value}")
        yield engine
    finally:
        await engine.close()


def diagnoser_on(
    settings: Settings,
    engine: Engine,
    *,
    retriever: Retriever | None = None,
    credentials: Mapping[str, VendorCredentials] | None = None,
) -> Diagnoser:
    """A diagnoser reading local files through `engine`, with a history of its own.

    Its knowledge is `retriever` when given (the eval's sample set), else the index
    KNOWLEDGE_CONFIG names, read as the last `supportbot knowledge sync` left it
    (`credentials`: the helpdesk accounts its vendors' sources are declared with).
    """
    redactor = build_redactor(settings)
    if retriever is None:
        knowledge = build_knowledge(settings, redactor=redactor, credentials=credentials)
        retriever = knowledge.retriever if knowledge is not None else None
    return build_diagnoser(
        settings,
        engine=engine,
        history=InMemoryHistoryStore(),
        fetcher=LocalFileFetcher(
            max_bytes=settings.max_image_bytes, inspector=build_inspector(settings)
        ),
        redactor=redactor,
        reply_filter=build_reply_filter(settings, redactor),
        # A one-shot command keeps nothing: its lines live as long as it runs.
        error_lines=InMemoryErrorLineStore(),
        retriever=retriever,
    )


@asynccontextmanager
async def local_diagnoser(
    settings: Settings, credentials: Mapping[str, VendorCredentials] | None = None
) -> AsyncIterator[Diagnoser]:
    """A diagnoser reading local files, its engine started; the engine is closed on exit.

    Raises:
        ModelUnavailable: the model did not load.
    """
    async with local_engine(settings) as engine:
        yield diagnoser_on(settings, engine, credentials=credentials)
