"""One knowledge store in PostgreSQL that every replica shares (`KNOWLEDGE_STORE`).

Words: each chunk's terms (`terms.py`: codes whole and in parts, Chinese as
bigrams) are written as a `tsvector` straight from our own tokens, with their
positions, and ranked with `ts_rank`; no text search configuration parses them
again, so nothing is stemmed and `ACME-4012` or `ERR_CERT_DATE_INVALID` stays one
lexeme (the 'simple' configuration's parser would split both). A GIN index finds
the candidates. On the sample knowledge base `ts_rank` and `ts_rank_cd` rank
equally well, and `ts_rank` is several times faster on a long question, whose OR
of 30 terms makes cover density slow (docs/knowledge.md has the figures). Unlike
the SQLite index's BM25 neither has an inverse document frequency, so the two
stores agree on strong matches and may order weak ones differently.

Meaning: vectors are stored as float32 `bytea` (pgvector is not assumed). Each
replica holds them as one in-memory matrix, as the SQLite index does, and reloads
it when the `generation` counter, bumped by every committed sync, has moved.

Writers: one transaction per source under one advisory lock, so a sync that fails
half-way rolls back (the previous index keeps answering everywhere) and two
replicas syncing at once take turns instead of interleaving their rows.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg

from bot.errors import ConfigError
from bot.knowledge import pg_lexical
from bot.knowledge.chunking import Chunk
from bot.knowledge.embedding import Embedder, Vectors
from bot.knowledge.fusion import DENSE_WEIGHT, Fusion, fuse
from bot.knowledge.index import Floor, Mode
from bot.knowledge.passages import Passage, scored_passages
from bot.knowledge.pg_lexical import quoted
from bot.knowledge.sources.base import DocumentRef
from bot.knowledge.terms import terms
from bot.knowledge.vectors import nearest
from bot.printable_urls import printable_url

_SCHEMA = """
CREATE TABLE IF NOT EXISTS knowledge_documents (
    key bigserial PRIMARY KEY,
    source text NOT NULL,
    doc_id text NOT NULL,
    title text NOT NULL,
    url text,
    hash text NOT NULL,
    everyone boolean NOT NULL,
    channels text[] NOT NULL DEFAULT '{}',
    synced double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()),
    UNIQUE (source, doc_id)
);
CREATE TABLE IF NOT EXISTS knowledge_chunks (
    id bigserial PRIMARY KEY,
    doc bigint NOT NULL REFERENCES knowledge_documents(key) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    section text NOT NULL,
    text text NOT NULL,
    terms tsvector NOT NULL,
    vector bytea,
    UNIQUE (doc, ordinal)
);
CREATE INDEX IF NOT EXISTS knowledge_chunks_terms ON knowledge_chunks USING gin (terms);
CREATE TABLE IF NOT EXISTS knowledge_gaps (
    id bigserial PRIMARY KEY,
    at double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()),
    channel text NOT NULL,
    query text NOT NULL
);
CREATE TABLE IF NOT EXISTS knowledge_meta (name text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO knowledge_meta VALUES ('generation', 0) ON CONFLICT DO NOTHING;
"""

# pg_advisory_xact_lock's key for "the knowledge store is being written": one number
# the whole application agrees on (the bytes of "sbKN"); held until commit or rollback.
WRITE_LOCK = 0x73624B4E
_SCHEMA_LOCK = WRITE_LOCK + 1

_CANDIDATES = 50
_QUERY_TERMS = 64
# tsvector limits (PostgreSQL's "Text Search Types"): positions 1..16383, at most 256
# kept per lexeme; larger ones would be clamped or dropped by the server anyway.
_MAX_POSITION = 16383
_POSITIONS_PER_TERM = 256
# Text PostgreSQL refuses: NUL, and lone surrogates (not encodable as UTF-8). Only a
# document's content is cleaned; ids pass as they are, so `hashes` returns them unchanged.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with the characters PostgreSQL cannot hold in `text` replaced (linear)."""
    return _UNSTORABLE.sub("\ufffd", text)


def tsvector_literal(words: Sequence[str]) -> str:
    """Our terms, in order, as a tsvector literal with their positions.

    Example:
        >>> tsvector_literal(["acme-4012", "acme", "4012", "acme"])
        "'acme-4012':1 'acme':2,4 '4012':3"
    """
    positions: dict[str, list[int]] = {}
    for position, word in enumerate(words, start=1):
        seen = positions.setdefault(word, [])
        if len(seen) < _POSITIONS_PER_TERM:
            seen.append(min(position, _MAX_POSITION))
    return " ".join(
        f"{quoted(word)}:{','.join(map(str, dict.fromkeys(at)))}" for word, at in positions.items()
    )


def _connect(dsn: str, **options: Any) -> psycopg.Connection[tuple[Any, ...]]:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10, **options)
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"KNOWLEDGE_STORE: cannot connect to {printable_url(dsn)}: {reason}"
        ) from None


class PostgresStore:
    """The knowledge store in one PostgreSQL database, shared by every replica.

    Args:
        dsn: a libpq connection URI (`postgresql://user@host:5432/db`).
        embedder: the sentence-embedding model; None for a lexical-only store.

    Example:
        >>> store = PostgresStore("postgresql://postgres@127.0.0.1/supportbot", embedder=None)
        >>> store.search("ERR_CERT_DATE_INVALID", channel="C1")[0].title
        'TLS certificates'
    """

    def __init__(
        self,
        dsn: str,
        *,
        embedder: Embedder | None,
        fusion: str = Fusion.SCORES,
        dense_weight: float = DENSE_WEIGHT,
    ) -> None:
        self.dsn = dsn
        self._embedder = embedder
        self.fusion = fusion
        self.dense_weight = dense_weight
        self._read = _connect(dsn)
        with self._read.transaction():
            # Replicas starting together would race on CREATE TABLE IF NOT EXISTS.
            self._read.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            self._read.execute(_SCHEMA)
            pg_lexical.migrate(self._read, WRITE_LOCK)
        self._lock = threading.Lock()
        self._generation = -1
        self._ids = np.zeros(0, dtype=np.int64)
        self._docs = np.zeros(0, dtype=np.int64)
        self._matrix: Vectors = np.zeros((0, 0), dtype=np.float32)

    @property
    def embedder(self) -> Embedder | None:
        return self._embedder

    def close(self) -> None:
        self._read.close()

    def _reader(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The read connection, opened again when the server dropped it (a restart, a
        failover): that one call failed, the next one works. Called under `_lock`."""
        if self._read.broken:
            self._read = _connect(self.dsn)
        return self._read

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._reader().execute(sql, params).fetchall()

    def hashes(self, source: str) -> dict[str, str]:
        rows = self._rows(
            "SELECT doc_id, hash FROM knowledge_documents WHERE source = %s", (source,)
        )
        return {doc_id: digest for doc_id, digest in rows}

    def counts(self) -> dict[str, tuple[int, int]]:
        rows = self._rows(
            "SELECT d.source, COUNT(DISTINCT d.key), COUNT(c.id) FROM knowledge_documents d "
            "LEFT JOIN knowledge_chunks c ON c.doc = d.key GROUP BY d.source"
        )
        return {source: (int(docs), int(chunks)) for source, docs, chunks in rows}

    def last_synced(self) -> dict[str, float]:
        rows = self._rows("SELECT source, MAX(synced) FROM knowledge_documents GROUP BY source")
        return {source: float(when) for source, when in rows}

    def record_gap(self, query: str, *, channel: str, keep: int = 1000) -> None:
        with self._lock, self._reader().transaction():
            self._read.execute(
                "INSERT INTO knowledge_gaps (channel, query) VALUES (%s, %s)",
                (channel, storable(query[:500])),
            )
            self._read.execute(
                "DELETE FROM knowledge_gaps WHERE id <= (SELECT MAX(id) FROM knowledge_gaps) - %s",
                (keep,),
            )

    def gaps(self, *, limit: int = 50) -> list[tuple[float, str, str]]:
        rows = self._rows(
            "SELECT at, channel, query FROM knowledge_gaps ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [(float(at), channel, query) for at, channel, query in rows]

    @contextmanager
    def writer(self) -> Iterator[PostgresWriter]:
        """One transaction under the store's write lock: seen together by every replica,
        or not at all; a second replica's writer waits for the first to finish."""
        connection = _connect(self.dsn)
        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                yield PostgresWriter(connection, self._embedder)
                connection.execute(
                    "UPDATE knowledge_meta SET value = value + 1 WHERE name = 'generation'"
                )
        finally:
            connection.close()

    def search(
        self,
        query: str,
        *,
        channel: str | None,
        sources: Collection[str] | None = None,
        limit: int = 5,
        mode: str = Mode.HYBRID,
        floor: Floor | None = None,
        scopes: Collection[str] = (),
    ) -> list[Passage]:
        """The passages `channel` may be answered from that best match `query`, best first.

        `channel=None` searches only documents visible to everyone; `sources` (None: all)
        narrows to the named sources; `floor` drops passages that match too weakly;
        `scopes` are further names besides the channel id that a document may list.
        """
        if sources is not None and not sources:
            return []
        with self._lock:
            self._reader()
            heard = ([channel] if channel is not None else []) + list(scopes)
            # The words' query applies visibility itself; only meaning needs the list
            # of allowed documents (10,000 rows at 100,000 chunks: milliseconds).
            lexical = self._lexical(query, heard, sources) if mode != Mode.DENSE else {}
            dense: dict[int, float] = {}
            similarity: dict[int, float] | None = None
            if mode != Mode.LEXICAL and self._embedder is not None:
                allowed = self._allowed_docs(heard, sources)
                if not allowed:
                    return []
                dense, similarity = self._dense(query, allowed)
            fused = fuse(
                lexical, dense, similarity, fusion=self.fusion, dense_weight=self.dense_weight
            )
            best = sorted(fused, key=lambda chunk: -fused[chunk])[: max(limit * 4, limit)]
            passages = self._passages(best, fused, lexical, similarity, set(terms(query)))
        if floor is not None:
            passages = [p for p in passages if floor.keeps(p)]
        return passages[:limit]

    def _allowed_docs(self, heard: list[str], sources: Collection[str] | None) -> list[int]:
        sql = (
            "SELECT key FROM knowledge_documents WHERE (everyone OR channels && CAST(%s AS text[]))"
        )
        params: list[object] = [heard]
        if sources is not None:
            sql += " AND source = ANY(%s)"
            params.append(list(sources))
        return [key for (key,) in self._read.execute(sql, params).fetchall()]

    def _lexical(
        self, query: str, heard: list[str], sources: Collection[str] | None
    ) -> dict[int, float]:
        wanted = list(dict.fromkeys(terms(query)))[:_QUERY_TERMS]
        rows = pg_lexical.search(
            self._read,
            wanted,
            limit=_CANDIDATES,
            heard=heard,
            sources=None if sources is None else list(sources),
        )
        return dict(rows)

    def _dense(self, query: str, allowed: list[int]) -> tuple[dict[int, float], dict[int, float]]:
        assert self._embedder is not None
        self._load_vectors()
        if not len(self._ids):
            return {}, {}
        vector = self._embedder.embed_query(query)
        mask = np.isin(self._docs, np.asarray(allowed, dtype=np.int64))
        count = min(_CANDIDATES, int(mask.sum()))
        if count == 0:
            return {}, {}
        return nearest(self._matrix, self._ids, mask, vector, count)

    def _passages(
        self,
        chunks: Sequence[int],
        fused: dict[int, float],
        lexical: dict[int, float],
        similarity: dict[int, float] | None,
        wanted: set[str],
    ) -> list[Passage]:
        if not chunks:
            return []
        rows = self._read.execute(
            "SELECT c.id, d.source, d.doc_id, d.title, d.url, c.section, c.text "
            "FROM knowledge_chunks c JOIN knowledge_documents d ON d.key = c.doc "
            "WHERE c.id = ANY(%s)",
            (list(chunks),),
        ).fetchall()
        return scored_passages(
            chunks, rows, fused=fused, lexical=lexical, similarity=similarity, wanted=wanted
        )

    def _load_vectors(self) -> None:
        """The matrix as the last committed sync left it, reloaded only when one has."""
        row = self._read.execute(
            "SELECT value FROM knowledge_meta WHERE name = 'generation'"
        ).fetchone()
        generation = int(row[0]) if row else 0
        if generation == self._generation:
            return
        with self._read.transaction():
            # One snapshot: the counter and the vectors it counts.
            self._read.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = self._read.execute(
                "SELECT value FROM knowledge_meta WHERE name = 'generation'"
            ).fetchone()
            rows = self._read.execute(
                "SELECT id, doc, vector FROM knowledge_chunks WHERE vector IS NOT NULL ORDER BY id"
            ).fetchall()
        self._ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        self._docs = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        if rows:
            self._matrix = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        else:
            self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._generation = int(row[0]) if row else 0


class PostgresWriter:
    """Writes inside one transaction of `PostgresStore.writer()`."""

    def __init__(self, connection: psycopg.Connection[tuple[Any, ...]], embedder: Embedder | None):
        self._db = connection
        self._embedder = embedder

    def put(self, ref: DocumentRef, *, digest: str, chunks: Sequence[Chunk]) -> None:
        """The document `ref` with these chunks, replacing what was indexed for it."""
        self.remove(ref.source, [ref.id])
        vectors: Vectors | None = None
        if self._embedder is not None and chunks:
            vectors = self._embedder.embed_passages(
                [
                    f"{ref.title} > {c.section}\n{c.text}"
                    if c.section
                    else f"{ref.title}\n{c.text}"
                    for c in chunks
                ]
            )
        title = storable(ref.title)
        row = self._db.execute(
            "INSERT INTO knowledge_documents (source, doc_id, title, url, hash, everyone, channels)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING key",
            (
                ref.source,
                ref.id,
                title,
                None if ref.url is None else storable(ref.url),
                digest,
                ref.visibility.channels is None,
                sorted(ref.visibility.channels or ()),
            ),
        ).fetchone()
        assert row is not None
        key = row[0]
        rows = []
        for ordinal, chunk in enumerate(chunks):
            section, text = storable(chunk.section), storable(chunk.text)
            blob = None if vectors is None else vectors[ordinal].astype(np.float32).tobytes()
            words = tsvector_literal(terms(f"{title}\n{section}\n{text}"))
            rows.append((key, ordinal, section, text, words, blob))
        with self._db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO knowledge_chunks (doc, ordinal, section, text, terms, vector) "
                "VALUES (%s, %s, %s, %s, CAST(%s AS tsvector), %s)",
                rows,
            )

    def remove(self, source: str, ids: Sequence[str]) -> int:
        """Drops these documents of `source` and their chunks; how many there were."""
        if not ids:
            return 0
        cursor = self._db.execute(
            "DELETE FROM knowledge_documents WHERE source = %s AND doc_id = ANY(%s)",
            (source, list(ids)),
        )
        return cursor.rowcount
