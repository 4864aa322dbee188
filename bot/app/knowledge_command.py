"""`supportbot knowledge sync | search | gaps`: what an admin runs to build the index and
to see why an answer cited what it did.

Past resolutions live in Redis: with `REDIS_URL` the command syncs and searches them
as `serve` does (the implicit source `resolutions`); without it there are none."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from bot.app.knowledge import KnowledgeBase, build_knowledge
from bot.conversation.knowledge import conversation_scopes
from bot.conversation.resolution_source import SOURCE as RESOLUTIONS
from bot.errors import ConfigError
from bot.knowledge.index import Mode
from bot.knowledge.sources.registry import VendorCredentials
from bot.knowledge.sync import Progress
from bot.safety.factory import build_redactor
from bot.settings import Settings
from bot.stores.factory import build_redis
from bot.stores.knowledge import RedisKnowledgeBase

NO_REDIS = "not synced: REDIS_URL is not set, so no resolutions are stored to sync"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `knowledge` command's own subcommands."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync = actions.add_parser("sync", help="bring the index up to date with every source")
    sync.add_argument("--source", help="sync only the source of this name")
    search = actions.add_parser("search", help="the passages a question would retrieve")
    search.add_argument("query", help="the question or error text")
    search.add_argument(
        "--channel",
        action="append",
        default=[],
        help="search as this channel would see it (repeatable; default: public documents only)",
    )
    search.add_argument(
        "--workspace",
        metavar="T",
        help="the Slack workspace (team id) the channels are in, so past resolutions are "
        "seen as there (default: documents only)",
    )
    search.add_argument("--limit", type=int, default=5, help="passages to show")
    search.add_argument(
        "--mode", choices=[Mode.HYBRID, Mode.LEXICAL, Mode.DENSE], default=Mode.HYBRID
    )
    search.add_argument("--json", action="store_true", help="one JSON object per passage")
    gaps = actions.add_parser("gaps", help="recent questions nothing in the index matched")
    gaps.add_argument("--limit", type=int, default=50)


async def run(
    settings: Settings,
    args: argparse.Namespace,
    *,
    credentials: Mapping[str, VendorCredentials] | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Runs one `knowledge` subcommand; 1 when a sync left a source failed. `credentials`:
    the helpdesk accounts the vendors' sources sign in with."""
    redis = build_redis(settings)
    resolutions = (
        RedisKnowledgeBase(redis, prefix=settings.redis_key_prefix) if redis is not None else None
    )
    try:
        knowledge = build_knowledge(
            settings,
            redactor=build_redactor(settings),
            resolutions=resolutions,
            credentials=credentials,
        )
        if knowledge is None:
            raise ConfigError("KNOWLEDGE_CONFIG is not set: no knowledge sources are declared")
        try:
            if args.action == "sync":
                return await _sync(knowledge, args.source, out)
            if args.action == "search":
                return _search(knowledge, args, out)
            return _gaps(knowledge, args.limit, out)
        finally:
            knowledge.index.close()
    finally:
        if redis is not None:
            await redis.aclose()


async def _sync(knowledge: KnowledgeBase, only: str | None, out: TextIO) -> int:
    names = [source.name for source in knowledge.sources]
    stored = knowledge.resolutions is not None
    if only == RESOLUTIONS and not stored:
        raise ConfigError(f"--source {RESOLUTIONS}: {NO_REDIS}")
    if only is not None and only not in names:
        raise ConfigError(f"--source {only!r}: no such source (declared: {', '.join(names)})")
    started = time.monotonic()

    def progress(source: str) -> Progress:
        def show(document: str, seen: int) -> None:
            shown = document if len(document) <= 50 else "…" + document[-49:]
            print(f"\r{source}: {seen:>6} documents  {shown:<50}", end="", file=sys.stderr)

        return show

    summaries = await knowledge.sync(only=only, progress=progress)
    print("\r" + " " * 80 + "\r", end="", file=sys.stderr)
    for summary in summaries:
        if summary.error:
            print(f"{summary.source}: FAILED, previous index kept: {summary.error}", file=out)
            continue
        print(
            f"{summary.source}: {summary.added} added, {summary.changed} changed, "
            f"{summary.unchanged} unchanged, {summary.removed} removed, "
            f"{len(summary.skipped)} skipped; {summary.chunks} chunks written "
            f"in {summary.seconds:.1f} s",
            file=out,
        )
        for document, reason in summary.skipped:
            print(f"  skipped {document}: {reason}", file=out)
    if only is None and not stored:
        print(f"{RESOLUTIONS}: {NO_REDIS}", file=out)
    total = sum(docs for docs, _ in knowledge.index.counts().values())
    print(f"index: {total} documents, {time.monotonic() - started:.1f} s in all", file=out)
    return 1 if any(summary.error for summary in summaries) else 0


def _search(knowledge: KnowledgeBase, args: argparse.Namespace, out: TextIO) -> int:
    channels: list[str | None] = list(args.channel) or [None]
    for channel in channels:
        passages = knowledge.index.search(
            args.query,
            channel=channel,
            limit=args.limit,
            mode=args.mode,
            scopes=_scopes(args.workspace, channel),
        )
        floor = knowledge.retriever.floor
        if not args.json:
            where = f" of {args.workspace}" if args.workspace else ""
            print(f"as {channel or 'a public conversation'}{where}:", file=out)
        for rank, passage in enumerate(passages, start=1):
            kept = floor.keeps(passage)
            if args.json:
                row = {
                    "channel": channel,
                    "workspace": args.workspace,
                    "rank": rank,
                    "title": passage.title,
                    "section": passage.section,
                    "url": passage.url,
                    "source": passage.source,
                    "document": passage.document,
                    "score": round(passage.score, 6),
                    "similarity": passage.similarity,
                    "matched": list(passage.matched),
                    "above_floor": kept,
                    "text": passage.text,
                }
                print(json.dumps(row, ensure_ascii=False), file=out)
                continue
            similarity = "-" if passage.similarity is None else f"{passage.similarity:.3f}"
            mark = "" if kept else "  (below the floor: not used)"
            print(
                f"{rank}. {passage.score:.4f}  cos {similarity}  {passage.heading}{mark}\n"
                f"   {passage.source} · {passage.url or passage.document}\n"
                f"   {_preview(passage.text)}",
                file=out,
            )
        if not passages and not args.json:
            print("  no passage matched", file=out)
    return 0


def _scopes(workspace: str | None, channel: str | None) -> tuple[str, ...]:
    """The names a conversation of `workspace` answers to, as the diagnosis asks with;
    a public conversation there (no channel) sees the workspace's public resolutions."""
    if workspace is None:
        return ()
    if channel is None:
        return conversation_scopes(workspace, "")[:1]
    return conversation_scopes(workspace, channel)


def _gaps(knowledge: KnowledgeBase, limit: int, out: TextIO) -> int:
    rows = knowledge.index.gaps(limit=limit)
    if not rows:
        print("no unmatched questions recorded", file=out)
    for at, channel, query in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(at))
        print(f"{when}  {channel:<12} {_preview(query)}", file=out)
    return 0


def _preview(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
