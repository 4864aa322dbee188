"""One knowledge index in one SQLite file: FTS5 for words, float32 vectors for meaning.

Search fuses the two rankings: by default a convex mix of BM25 (normalised by the
best match) and cosine; or reciprocal-rank fusion (Cormack et al. 2009, k = 60). Vectors are
held in memory as one matrix and scored with one matrix-vector product, which
stays within milliseconds at 100,000 chunks of 384 dimensions.

Writers work inside one transaction per source (`IndexWriter`): a sync that
fails half-way rolls back and the previous index keeps answering; readers use
their own connection in WAL mode, so searches go on during a sync.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.knowledge import lexical
from bot.knowledge.chunking import Chunk
from bot.knowledge.embedding import Embedder, Vectors
from bot.knowledge.fusion import DENSE_WEIGHT, RRF_K, Fusion, fuse
from bot.knowledge.passages import Passage, scored_passages
from bot.knowledge.sources.base import DocumentRef
from bot.knowledge.terms import terms
from bot.knowledge.vectors import nearest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    key INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    hash TEXT NOT NULL,
    everyone INTEGER NOT NULL,
    synced REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    UNIQUE (source, doc_id)
);
CREATE TABLE IF NOT EXISTS doc_channels (
    doc INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    PRIMARY KEY (doc, channel)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    terms, tokenize = "unicode61 remove_diacritics 0 tokenchars '-_.:/'"
);
CREATE TABLE IF NOT EXISTS gaps (
    at REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    channel TEXT NOT NULL,
    query TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
"""

_CANDIDATES = 50


class Mode:
    HYBRID = "hybrid"
    LEXICAL = "lexical"
    DENSE = "dense"


@dataclass(frozen=True)
class Floor:
    """The relevance floor: a passage is kept when its meaning is close enough, or it holds
    one of the query's codes (`ACME-4012`, `ERR_CERT_DATE_INVALID`: a term with a digit or
    an underscore, which is worth keeping on its own), or at least `words` of its terms.

    BM25's scale depends on the corpus (a three-document index scores its best match
    near 1, a large one near 20), so the floor counts matched terms instead.
    """

    similarity: float = 0.35
    words: int = 3

    def keeps(self, passage: Passage) -> bool:
        if passage.similarity is not None and passage.similarity >= self.similarity:
            return True
        if any(_is_code(term) for term in passage.matched):
            return True
        whole = [term for term in passage.matched if not _HAN_BIGRAM.fullmatch(term)]
        bigrams = len(passage.matched) - len(whole)
        return len(whole) + bigrams // 2 >= self.words


_HAN_BIGRAM = re.compile(r"[\u3400-\u9fff]{2}")


def _is_code(term: str) -> bool:
    return (
        len(term) >= 4
        and any(ch.isdigit() or ch == "_" for ch in term)
        and any(ch.isalpha() for ch in term)
    )


def _connect(path: Path | str) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


class KnowledgeIndex:
    """The documents of every source, chunked, searchable by words and by meaning.

    Args:
        path: the SQLite file (created when missing); `:memory:` is not supported
            because writers use their own connection.
        embedder: the sentence-embedding model; None for a lexical-only index.

    Example:
        >>> index = KnowledgeIndex(tmp / "knowledge.db", embedder=None)
        >>> index.search("ERR_CERT_DATE_INVALID", channel="C1")[0].title
        'TLS certificates'
    """

    def __init__(
        self,
        path: Path,
        *,
        embedder: Embedder | None,
        fusion: str = Fusion.SCORES,
        dense_weight: float = DENSE_WEIGHT,
        rrf_k: int = RRF_K,
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._embedder = embedder
        self.dense_weight = dense_weight
        self.fusion = fusion
        self.rrf_k = rrf_k
        self._read = _connect(path)
        self._read.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._generation = -1
        # Read again whenever a writer commits (the generation moves):
        self._totals = lexical.Totals(0, 0.0)
        self._counts: dict[str, int] = {}  # rows holding each term
        self._visible: dict[
            tuple[str | None, tuple[str, ...] | None, tuple[str, ...]], _Visible
        ] = {}
        self._vectors_loaded = False
        self._ids = np.zeros(0, dtype=np.int64)
        self._docs = np.zeros(0, dtype=np.int64)
        self._matrix: Vectors = np.zeros((0, 0), dtype=np.float32)

    @property
    def embedder(self) -> Embedder | None:
        return self._embedder

    def close(self) -> None:
        self._read.close()

    def hashes(self, source: str) -> dict[str, str]:
        """Each indexed document of `source` by id, with the hash it was indexed at."""
        with self._lock:
            rows = self._read.execute(
                "SELECT doc_id, hash FROM documents WHERE source = ?", (source,)
            ).fetchall()
        return {doc_id: digest for doc_id, digest in rows}

    def counts(self) -> dict[str, tuple[int, int]]:
        """Documents and chunks per source."""
        with self._lock:
            rows = self._read.execute(
                "SELECT d.source, COUNT(DISTINCT d.key), COUNT(c.id) FROM documents d "
                "LEFT JOIN chunks c ON c.doc = d.key GROUP BY d.source"
            ).fetchall()
        return {source: (docs, chunks) for source, docs, chunks in rows}

    def last_synced(self) -> dict[str, float]:
        with self._lock:
            rows = self._read.execute(
                "SELECT source, MAX(synced) FROM documents GROUP BY source"
            ).fetchall()
        return {source: float(when) for source, when in rows}

    def record_gap(self, query: str, *, channel: str, keep: int = 1000) -> None:
        """Remembers a question nothing matched (already redacted), keeping the latest `keep`."""
        connection = _connect(self.path)
        try:
            connection.execute(
                "INSERT INTO gaps (channel, query) VALUES (?, ?)", (channel, query[:500])
            )
            connection.execute(
                "DELETE FROM gaps WHERE rowid <= (SELECT MAX(rowid) FROM gaps) - ?", (keep,)
            )
        finally:
            connection.close()

    def gaps(self, *, limit: int = 50) -> list[tuple[float, str, str]]:
        """The latest questions nothing matched: (unix time, channel, query), newest first."""
        with self._lock:
            rows = self._read.execute(
                "SELECT at, channel, query FROM gaps ORDER BY rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [(float(at), channel, query) for at, channel, query in rows]

    @contextmanager
    def writer(self) -> Iterator[IndexWriter]:
        """One transaction: everything written inside it is seen together, or not at all."""
        connection = _connect(self.path)
        try:
            connection.execute("BEGIN IMMEDIATE")
            writer = IndexWriter(connection, self._embedder)
            try:
                yield writer
                writer.flush()
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("UPDATE meta SET value = value + 1 WHERE name = 'generation'")
            connection.execute("COMMIT")
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
        narrows to the named sources; `floor` drops passages that match too weakly.
        `scopes` are further names the asker's conversation answers to besides its
        channel id (past resolutions are scoped by workspace: `T123:*`, `T123:C456`);
        a document listing one of them is visible too.
        """
        with self._lock:
            self._refresh()
            allowed = self._allowed(channel, sources, scopes)
            if not allowed.docs:
                return []
            lexical = self._lexical(query, allowed.docs) if mode != Mode.DENSE else {}
            dense: dict[int, float] = {}
            similarity: dict[int, float] | None = None
            if mode != Mode.LEXICAL and self._embedder is not None:
                dense, similarity = self._dense(query, allowed)
            fused = self._fuse(lexical, dense, similarity)
            best = sorted(fused, key=lambda chunk: -fused[chunk])[: max(limit * 4, limit)]
            passages = self._passages(best, fused, lexical, similarity, set(terms(query)))
        if floor is not None:
            passages = [p for p in passages if floor.keeps(p)]
        return passages[:limit]

    def _fuse(
        self,
        lexical: dict[int, float],
        dense: dict[int, float],
        similarity: dict[int, float] | None,
    ) -> dict[int, float]:
        return fuse(
            lexical,
            dense,
            similarity,
            fusion=self.fusion,
            dense_weight=self.dense_weight,
            rrf_k=self.rrf_k,
        )

    def _refresh(self) -> None:
        """Forgets what was read of an older index once a writer has committed."""
        (generation,) = self._read.execute(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'generation'"
        ).fetchone()
        if generation == self._generation:
            return
        self._generation = generation
        self._totals = lexical.totals(self._read)
        self._counts.clear()
        self._visible.clear()
        self._vectors_loaded = False

    def _allowed(
        self, channel: str | None, sources: Collection[str] | None, scopes: Collection[str] = ()
    ) -> _Visible:
        """The documents `channel` may see, and the vector rows they own as a mask;
        the same for every question until the index changes."""
        key = (
            channel,
            None if sources is None else tuple(sorted(sources)),
            tuple(sorted(scopes)),
        )
        visible = self._visible.get(key)
        if visible is None:
            if len(self._visible) >= 1024:
                self._visible.clear()
            visible = _Visible(self._allowed_docs(channel, sources, scopes))
            self._visible[key] = visible
        return visible

    def _allowed_docs(
        self, channel: str | None, sources: Collection[str] | None, scopes: Collection[str] = ()
    ) -> set[int]:
        sql = "SELECT key FROM documents d WHERE (everyone = 1"
        params: list[object] = []
        heard = ([channel] if channel is not None else []) + list(scopes)
        if heard:
            sql += (
                " OR EXISTS (SELECT 1 FROM doc_channels c WHERE c.doc = d.key AND c.channel IN "
                f"({','.join('?' * len(heard))}))"
            )
            params += heard
        sql += ")"
        if sources is not None:
            names = list(sources)
            if not names:
                return set()
            sql += f" AND source IN ({','.join('?' * len(names))})"
            params += names
        return {key for (key,) in self._read.execute(sql, params)}

    def _lexical(self, query: str, allowed: set[int]) -> dict[int, float]:
        wanted = list(dict.fromkeys(terms(query)))[:64]
        rows = lexical.search(
            self._read, wanted, limit=_CANDIDATES * 4, table=self._totals, counts=self._counts
        )
        ranked = [(chunk, score) for chunk, score, doc in rows if doc in allowed]
        return dict(ranked[:_CANDIDATES])

    def _dense(self, query: str, allowed: _Visible) -> tuple[dict[int, float], dict[int, float]]:
        assert self._embedder is not None
        self._load_vectors()
        if not len(self._ids):
            return {}, {}
        mask = allowed.mask(self._docs)
        count = min(_CANDIDATES, allowed.rows)
        if count == 0:
            return {}, {}
        vector = self._embedder.embed_query(query)
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
            "SELECT c.id, d.source, d.doc_id, d.title, d.url, c.section, c.text FROM chunks c "
            f"JOIN documents d ON d.key = c.doc WHERE c.id IN ({','.join('?' * len(chunks))})",
            list(chunks),
        ).fetchall()
        return scored_passages(
            chunks, rows, fused=fused, lexical=lexical, similarity=similarity, wanted=wanted
        )

    def _load_vectors(self) -> None:
        """All vectors as one contiguous matrix, read once per generation of the index."""
        if self._vectors_loaded:
            return
        rows = self._read.execute(
            "SELECT id, doc, vector FROM chunks WHERE vector IS NOT NULL ORDER BY id"
        ).fetchall()
        self._ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        self._docs = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        if rows:
            self._matrix = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32)
            self._matrix = self._matrix.reshape(len(rows), -1)
        else:
            self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._vectors_loaded = True


class _Visible:
    """The documents one channel may be answered from, and (lazily, once the vectors
    are read) which rows of the vector matrix those documents own."""

    def __init__(self, docs: set[int]) -> None:
        self.docs = docs
        self._mask: npt.NDArray[np.bool_] | None = None
        self._of: np.ndarray | None = None
        self.rows = 0

    def mask(self, owners: np.ndarray) -> npt.NDArray[np.bool_]:
        if self._mask is None or self._of is not owners:
            keys = np.fromiter(self.docs, dtype=np.int64, count=len(self.docs))
            self._mask = np.isin(owners, keys)
            self._of = owners
            self.rows = int(self._mask.sum())
        return self._mask


class IndexWriter:
    """Writes inside one transaction of `KnowledgeIndex.writer()`.

    Rows are written at once; their vectors are embedded in batches across documents
    (a document is often a handful of chunks, a forward pass wants dozens) and are all
    written before the transaction commits.
    """

    EMBED_BATCH = 256  # chunks waiting for their vectors before a forward pass

    def __init__(self, connection: sqlite3.Connection, embedder: Embedder | None) -> None:
        self._db = connection
        self._embedder = embedder
        self._pending: list[tuple[int, str]] = []  # (chunk id, text to embed)

    def put(self, ref: DocumentRef, *, digest: str, chunks: Sequence[Chunk]) -> None:
        """The document `ref` with these chunks, replacing what was indexed for it."""
        self.remove(ref.source, [ref.id])
        cursor = self._db.execute(
            "INSERT INTO documents (source, doc_id, title, url, hash, everyone) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (ref.source, ref.id, ref.title, ref.url, digest, int(ref.visibility.channels is None)),
        )
        key = cursor.lastrowid
        self._db.executemany(
            "INSERT INTO doc_channels VALUES (?, ?)",
            [(key, channel) for channel in sorted(ref.visibility.channels or ())],
        )
        self._db.executemany(
            "INSERT INTO chunks (doc, ordinal, section, text) VALUES (?, ?, ?, ?)",
            [(key, ordinal, c.section, c.text) for ordinal, c in enumerate(chunks)],
        )
        ids = [
            chunk_id
            for (chunk_id,) in self._db.execute(
                "SELECT id FROM chunks WHERE doc = ? ORDER BY ordinal", (key,)
            )
        ]
        self._db.executemany(
            "INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)",
            [
                (chunk_id, " ".join(terms(f"{ref.title}\n{c.section}\n{c.text}")))
                for chunk_id, c in zip(ids, chunks, strict=True)
            ],
        )
        if self._embedder is not None:
            self._pending.extend(
                (
                    chunk_id,
                    f"{ref.title} > {c.section}\n{c.text}"
                    if c.section
                    else f"{ref.title}\n{c.text}",
                )
                for chunk_id, c in zip(ids, chunks, strict=True)
            )
            if len(self._pending) >= self.EMBED_BATCH:
                self.flush()

    def flush(self) -> None:
        """Embeds the chunks still waiting for their vectors and stores them."""
        if self._embedder is None or not self._pending:
            return
        pending, self._pending = self._pending, []
        vectors = self._embedder.embed_passages([text for _, text in pending])
        # In the order written: a chunk id SQLite reused inside this transaction (a
        # document put, removed and put again) ends with its latest text's vector.
        self._db.executemany(
            "UPDATE chunks SET vector = ? WHERE id = ?",
            [
                (vectors[i].astype(np.float32, copy=False).tobytes(), chunk_id)
                for i, (chunk_id, _) in enumerate(pending)
            ],
        )

    def remove(self, source: str, ids: Sequence[str]) -> int:
        """Drops these documents of `source` and their chunks; how many there were."""
        removed = 0
        for doc_id in ids:
            row = self._db.execute(
                "SELECT key FROM documents WHERE source = ? AND doc_id = ?", (source, doc_id)
            ).fetchone()
            if row is None:
                continue
            self._db.execute(
                "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc = ?)",
                (row[0],),
            )
            self._db.execute("DELETE FROM documents WHERE key = ?", (row[0],))
            removed += 1
        return removed
