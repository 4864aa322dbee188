"""The knowledge base built from `Settings`: sources from KNOWLEDGE_CONFIG, one store
(this replica's SQLite file, or the PostgreSQL store KNOWLEDGE_STORE names, shared by
every replica), the embedding model, the retriever every diagnoser asks, and syncing
all sources."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.conversation.knowledge import KnowledgeBase as ResolutionStore
from bot.conversation.knowledge import Resolution
from bot.conversation.resolution_source import SOURCE as RESOLUTIONS
from bot.conversation.resolution_source import ResolutionsSource, resolution_document
from bot.engine.remote_embeddings import REMOTE_PREFIX, RemoteEmbedder
from bot.errors import ConfigError
from bot.knowledge.config import load_knowledge_config
from bot.knowledge.embedding import Embedder, TransformersEmbedder
from bot.knowledge.index import Floor, KnowledgeIndex
from bot.knowledge.retrieval import IndexRetriever
from bot.knowledge.sources.base import Source
from bot.knowledge.sources.registry import SourceContext, VendorCredentials, build_source
from bot.knowledge.store import KnowledgeStore
from bot.knowledge.sync import Progress, SyncSummary, sync_source, upsert_document
from bot.observability import catalogue
from bot.observability.metrics import Metrics
from bot.safety.redaction import Redactor
from bot.settings import Settings

log = logging.getLogger(__name__)

NO_EMBEDDINGS = "none"


@dataclass
class KnowledgeBase:
    """Everything the bot knows beyond the model: the configured sources and their index."""

    sources: list[Source]
    index: KnowledgeStore
    retriever: IndexRetriever
    redactor: Redactor
    metrics: Metrics | None = None
    # The resolution store as the escalation desk should write to it: each resolution
    # also put into the index at once (None when no store was given).
    resolutions: ResolutionStore | None = None

    async def sync(
        self, *, only: str | None = None, progress: Callable[[str], Progress] | None = None
    ) -> list[SyncSummary]:
        """Syncs every source (or the one named `only`), each independently of the others."""
        summaries = []
        for source in self.sources:
            if only is not None and source.name != only:
                continue
            summary = await sync_source(
                source,
                self.index,
                redactor=self.redactor,
                progress=progress(source.name) if progress else None,
            )
            if self.metrics is not None:
                self.metrics.observe(catalogue.KNOWLEDGE_SYNC_SECONDS, summary.seconds)
                outcome = "failed" if summary.error else "synced"
                self.metrics.count(catalogue.KNOWLEDGE_SYNCS, outcome=outcome)
            if summary.error:
                log.warning("knowledge source %s failed: %s", source.name, summary.error)
            summaries.append(summary)
        return summaries

    async def sync_forever(self, every_seconds: float) -> None:
        """Syncs at start-up, then every `every_seconds` (only once when 0); a failed round
        is logged and the next one tried, the previous index answering meanwhile."""
        while True:
            try:
                await self.sync()
            except Exception:
                log.exception("knowledge sync failed; the previous index keeps answering")
            if every_seconds <= 0:
                return
            await asyncio.sleep(every_seconds)


class IndexedResolutions:
    """A resolution store whose new resolutions enter the knowledge index at once, so the
    next question can be answered from them without waiting for the next sync.

    The index is written in the background: a sync in progress holds the index's write
    lock, and the desk's "resolved" reply must not wait for it. `settled()` waits for
    the writes under way (shutdown, tests).
    """

    def __init__(self, store: ResolutionStore, index: KnowledgeStore, redactor: Redactor) -> None:
        self._store = store
        self._index = index
        self._redactor = redactor
        self._writes: set[asyncio.Task[None]] = set()

    async def add(self, resolution: Resolution) -> None:
        await self._store.add(resolution)
        task = asyncio.create_task(self._put(resolution), name="index-resolution")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def settled(self) -> None:
        """Returns once every resolution added so far is in the index (or failed to be)."""
        if self._writes:
            await asyncio.wait(set(self._writes))

    async def _put(self, resolution: Resolution) -> None:
        try:
            document = resolution_document(resolution)
            await upsert_document(document, self._index, redactor=self._redactor)
        except Exception:  # kept in the store; the next sync indexes it
            log.exception("could not index a new resolution; the next sync will")

    async def all(self) -> list[Resolution]:
        return await self._store.all()

    async def similar(
        self, query: str, *, limit: int = 3, where: tuple[str, str] | None = None
    ) -> list[Resolution]:
        return await self._store.similar(query, limit=limit, where=where)


def build_embedder(settings: Settings) -> Embedder | None:
    """The embedding model EMBEDDING_MODEL names; None for "none" (words only);
    `remote:<name>` asks the model server at ENGINE_URL for its embeddings."""
    if settings.embedding_model.strip().lower() == NO_EMBEDDINGS:
        return None
    model = settings.embedding_model
    if model.startswith(REMOTE_PREFIX):
        return _remote_embedder(settings, model.removeprefix(REMOTE_PREFIX).strip())
    e5 = "e5" in model.lower()  # e5 models are trained with these prefixes
    try:
        return TransformersEmbedder(
            model,
            query_prefix="query: " if e5 else "",
            passage_prefix="passage: " if e5 else "",
            dtype=settings.embedding_dtype.value,
        )
    except OSError as error:
        raise ConfigError(f"EMBEDDING_MODEL: cannot load {model!r}: {error}") from None


def _remote_embedder(settings: Settings, name: str) -> RemoteEmbedder:
    if not name:
        raise ConfigError("EMBEDDING_MODEL: remote: needs the model's name (remote:BAAI/bge-m3)")
    if not settings.engine_url:
        raise ConfigError("EMBEDDING_MODEL: remote embeddings need ENGINE_URL, the model server")
    key = settings.engine_api_key
    return RemoteEmbedder(
        settings.engine_url, name, api_key=key.get_secret_value() if key else None
    )


def build_store(settings: Settings, *, embedder: Embedder | None) -> KnowledgeStore:
    """The PostgreSQL store KNOWLEDGE_STORE names, shared by every replica; else this
    replica's own SQLite file at KNOWLEDGE_INDEX."""
    if settings.knowledge_store is None:
        return KnowledgeIndex(settings.knowledge_index, embedder=embedder)
    try:
        from bot.knowledge.postgres import PostgresStore
    except ImportError as error:  # psycopg is the `postgres` extra
        raise ConfigError(
            f"KNOWLEDGE_STORE needs the PostgreSQL driver: pip install 'supportbot[postgres]' "
            f"({error})"
        ) from None
    return PostgresStore(settings.knowledge_store, embedder=embedder)


def build_knowledge(
    settings: Settings,
    *,
    redactor: Redactor,
    metrics: Metrics | None = None,
    context: SourceContext | None = None,
    resolutions: ResolutionStore | None = None,
    credentials: Mapping[str, VendorCredentials] | None = None,
) -> KnowledgeBase | None:
    """The knowledge base KNOWLEDGE_CONFIG declares; None without one (resolutions only).

    With `resolutions` (the store the escalation desk writes), past resolutions are one
    more source of the index, named `resolutions`. `credentials` are the helpdesk accounts
    the vendors' article sources sign in with (`Registry.article_credentials`).
    """
    if settings.knowledge_config is None:
        return None
    config = load_knowledge_config(settings.knowledge_config)
    if any(source.name == RESOLUTIONS for source in config.sources):
        raise ConfigError(
            f"KNOWLEDGE_CONFIG: the source name {RESOLUTIONS!r} is the bot's own "
            "(past resolutions); choose another"
        )
    context = context or SourceContext(
        base_dir=settings.knowledge_config.parent, credentials=dict(credentials or {})
    )
    sources = [build_source(source, context) for source in config.sources]
    if resolutions is not None:
        sources.append(ResolutionsSource(resolutions))
    index = build_store(settings, embedder=build_embedder(settings))

    def observe(seconds: float, matched: bool) -> None:
        if metrics is not None:
            metrics.observe(catalogue.KNOWLEDGE_RETRIEVAL_SECONDS, seconds)
            if not matched:
                metrics.count(catalogue.KNOWLEDGE_UNMATCHED)

    retriever = IndexRetriever(
        index, floor=Floor(similarity=settings.knowledge_min_similarity), observe=observe
    )

    def documents() -> float:
        try:
            return float(sum(docs for docs, _ in index.counts().values()))
        except Exception:  # a shared store that is down must not take /metrics with it
            log.warning("could not count the knowledge store's documents", exc_info=True)
            return math.nan

    if metrics is not None:
        metrics.gauge(catalogue.KNOWLEDGE_DOCUMENTS, documents)
    indexed = IndexedResolutions(resolutions, index, redactor) if resolutions is not None else None
    return KnowledgeBase(sources, index, retriever, redactor, metrics, indexed)
