"""`doctor` rows for the knowledge base: one per source (reachable, credentials accepted,
last sync, documents indexed), read without loading the embedding model."""

from __future__ import annotations

import time
from collections.abc import Mapping

from bot.app.doctor import Check, Status
from bot.app.knowledge import build_store
from bot.errors import BotError, ConfigError, KnowledgeSourceError
from bot.knowledge.config import load_knowledge_config
from bot.knowledge.sources.registry import SourceContext, VendorCredentials, build_source
from bot.settings import Settings


async def check_knowledge(
    settings: Settings, credentials: Mapping[str, VendorCredentials] | None = None
) -> list[Check]:
    """A row per configured source; none without KNOWLEDGE_CONFIG (resolutions only).
    `credentials`: the helpdesk accounts the vendors' sources sign in with."""
    if settings.knowledge_config is None:
        return []
    try:
        config = load_knowledge_config(settings.knowledge_config)
    except BotError as error:
        return [Check("knowledge", Status.FAIL, str(error), "fix the sources file")]
    counts: dict[str, tuple[int, int]] = {}
    synced: dict[str, float] = {}
    checks = []
    if settings.knowledge_store is not None or settings.knowledge_index.is_file():
        try:
            index = build_store(settings, embedder=None)
        except ConfigError as error:  # the shared store is down or unreachable
            checks.append(
                Check("knowledge:store", Status.FAIL, str(error), "check KNOWLEDGE_STORE")
            )
        else:
            counts, synced = index.counts(), index.last_synced()
            index.close()
    context = SourceContext(
        base_dir=settings.knowledge_config.parent, credentials=dict(credentials or {})
    )
    for declared in config.sources:
        name = f"knowledge:{declared.name}"
        docs, chunks = counts.get(declared.name, (0, 0))
        when = synced.get(declared.name)
        indexed = (
            f"{docs} documents, {chunks} chunks, last synced "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(when))}"
            if when
            else "never synced"
        )
        try:
            source = build_source(declared, context)
            async for _ in source.documents():  # the first listed document proves access
                break
        except KnowledgeSourceError as error:
            checks.append(Check(name, Status.FAIL, f"{error.reason}; {indexed}", "see the reason"))
            continue
        except BotError as error:
            checks.append(Check(name, Status.FAIL, str(error), "fix the sources file"))
            continue
        status = Status.OK if when else Status.WARN
        checks.append(Check(name, status, f"reachable; {indexed}", "run supportbot knowledge sync"))
    return checks
