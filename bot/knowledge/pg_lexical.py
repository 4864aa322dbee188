"""The shared store's word search: FTS5's BM25 over the chunks' tsvectors, pruned.

`ts_rank` has no inverse document frequency and PostgreSQL scores every row a
query matches before `ORDER BY ... LIMIT` keeps the best: a word that most chunks
hold made one search rank most of the table (EXPLAIN ANALYZE at 100,000 chunks: a
parallel sequential scan and `ts_rank` over 85,000 rows, 200-400 ms). Here the
server only finds candidates through the GIN index and the ranking is BM25 with the
SQLite index's constants (`lexical.py`), so the two stores rank alike:

- Document frequencies live in `knowledge_terms`, and the chunk count and the
  total of positions (each chunk's length) in `knowledge_meta`; statement triggers
  on `knowledge_chunks` keep them, so every way of writing rows (a sync, a COPY, a
  cascade from a removed document) counts. Chunks are inserted and deleted, never
  updated.
- Max-score pruning (Turtle & Flood 1995): the rarest terms, as many as hold at
  most `BUDGET` rows between them, find the candidates; each is scored over all
  terms from its tsvector's positions; the answer stands when its last row beats
  the most that the terms left out could give a row (idf * (k1 + 1) each), and
  otherwise the next terms join, the budget growing fourfold, until all have.
- A word more than half the chunks hold, and at least `NOMINATING` of them, is a
  stop word, as in `lexical.py` (BM25's idf is floored at 1e-6 there).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg

from bot.knowledge.lexical import COMMON_SHARE, IDF_FLOOR, K1, NOMINATING, B, idf

SCHEMA_VERSION = 2
# Rows the first candidate query may fetch (by the terms' document frequencies);
# each is parsed and scored here, some microseconds apiece.
BUDGET = 2000

_STATISTICS = """
CREATE TABLE IF NOT EXISTS knowledge_terms (term text PRIMARY KEY, chunks integer NOT NULL);
INSERT INTO knowledge_meta VALUES ('chunks', 0), ('positions', 0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION knowledge_count_terms() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
    touched text[];
BEGIN
    WITH counted AS (
        SELECT u.lexeme AS term, count(*) * sign AS chunks
        FROM changed c, unnest(c.terms) u GROUP BY u.lexeme
    ), upserted AS (
        INSERT INTO knowledge_terms AS t SELECT term, chunks FROM counted
        ON CONFLICT (term) DO UPDATE SET chunks = t.chunks + excluded.chunks
        RETURNING t.term, t.chunks
    )
    SELECT array_agg(term) INTO touched FROM upserted WHERE chunks <= 0;
    IF touched IS NOT NULL THEN
        DELETE FROM knowledge_terms WHERE term = ANY(touched);
    END IF;
    UPDATE knowledge_meta SET value = value + sign * (SELECT count(*) FROM changed)
        WHERE name = 'chunks';
    UPDATE knowledge_meta SET value = value + sign * (
        SELECT coalesce(sum(coalesce(cardinality(u.positions), 1)), 0)
        FROM changed c, unnest(c.terms) u
    ) WHERE name = 'positions';
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER knowledge_chunks_added AFTER INSERT ON knowledge_chunks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION knowledge_count_terms();
CREATE OR REPLACE TRIGGER knowledge_chunks_removed AFTER DELETE ON knowledge_chunks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION knowledge_count_terms();
"""

_BACKFILL = """
TRUNCATE knowledge_terms;
INSERT INTO knowledge_terms
    SELECT u.lexeme, count(*) FROM knowledge_chunks c, unnest(c.terms) u GROUP BY u.lexeme;
UPDATE knowledge_meta SET value = (SELECT count(*) FROM knowledge_chunks) WHERE name = 'chunks';
UPDATE knowledge_meta SET value = (
    SELECT coalesce(sum(coalesce(cardinality(u.positions), 1)), 0)
    FROM knowledge_chunks c, unnest(c.terms) u
) WHERE name = 'positions';
"""

# One lexeme of a tsvector's text form and its positions ('it''s':1,4): quotes are
# doubled and backslashes escaped inside; weights (A-C) may follow a position.
_LEXEME = re.compile(r"'((?:[^'\\]|''|\\.)*)'(?::([0-9A-D,]+))?")


def migrate(db: psycopg.Connection[tuple[Any, ...]], write_lock: int) -> None:
    """Brings a store's schema to `SCHEMA_VERSION` inside the caller's transaction:
    the statistics and their triggers, counted once over the chunks already there
    (under the write lock, so no sync writes while they are counted)."""
    row = db.execute("SELECT value FROM knowledge_meta WHERE name = 'schema'").fetchone()
    if row is not None and int(row[0]) >= SCHEMA_VERSION:
        return
    db.execute("SELECT pg_advisory_xact_lock(%s)", (write_lock,))
    db.execute(_STATISTICS)
    db.execute(_BACKFILL)
    db.execute(
        "INSERT INTO knowledge_meta VALUES ('schema', %s) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (SCHEMA_VERSION,),
    )


def search(
    db: psycopg.Connection[tuple[Any, ...]],
    wanted: Sequence[str],
    *,
    limit: int,
    heard: list[str],
    sources: list[str] | None,
    budget: int = BUDGET,
) -> list[tuple[int, float]]:
    """The `limit` best visible chunks for any of `wanted` (distinct terms) as (chunk,
    BM25), best first, ties by chunk id, as FTS5's `ORDER BY bm25()` would rank them;
    `budget`: the rows the first candidate query may fetch (at least 5% of the chunks)."""
    if not wanted:
        return []
    rows, positions, hits = _statistics(db, wanted)
    present = [term for term in wanted if hits.get(term)]
    if rows == 0 or not present:
        return []
    weight = {term: idf(rows, hits[term]) for term in present}
    kept = [term for term in present if weight[term] > IDF_FLOOR or hits[term] < NOMINATING]
    order = sorted(kept, key=lambda term: (hits[term], term))  # rarest first
    average = positions / rows
    budget = max(budget, int(COMMON_SHARE * rows))
    taken = 0
    while True:
        fetched = 0
        while taken < len(order) and (taken == 0 or fetched + hits[order[taken]] <= budget):
            fetched += hits[order[taken]]
            taken += 1
        found = _scored(db, order[:taken], kept, weight, average, heard, sources)
        best = sorted(found, key=lambda row: (-row[1], row[0]))[:limit]
        left_out = sum(weight[term] * (K1 + 1) for term in order[taken:])
        if taken == len(order) or (len(best) == limit and best[-1][1] > left_out):
            return best
        budget *= 4


def _statistics(
    db: psycopg.Connection[tuple[Any, ...]], wanted: Sequence[str]
) -> tuple[int, int, dict[str, int]]:
    """The chunk count, their total length and how many chunks hold each term."""
    rows = db.execute(
        "SELECT term, chunks FROM knowledge_terms WHERE term = ANY(%s) "
        "UNION ALL SELECT '', value FROM knowledge_meta WHERE name = 'chunks' "
        "UNION ALL SELECT ' ', value FROM knowledge_meta WHERE name = 'positions'",
        (list(wanted),),
    ).fetchall()
    found = {term: int(count) for term, count in rows}
    return found.pop("", 0), found.pop(" ", 0), found


def _scored(
    db: psycopg.Connection[tuple[Any, ...]],
    query: Sequence[str],
    scored: Sequence[str],
    weight: dict[str, float],
    average: float,
    heard: list[str],
    sources: list[str] | None,
) -> list[tuple[int, float]]:
    """Every visible chunk holding any of `query`, with its BM25 over all `scored`."""
    # Visibility as a join, not `doc = ANY(allowed)`: that compares each candidate
    # with every allowed document (measured: 180 ms at 5,000 chunks).
    rows = db.execute(
        "SELECT c.id, c.terms::text FROM knowledge_chunks c "
        "JOIN knowledge_documents d ON d.key = c.doc "
        "WHERE c.terms @@ CAST(%s AS tsquery) "
        "AND (d.everyone OR d.channels && CAST(%s AS text[])) "
        "AND (CAST(%s AS text[]) IS NULL OR d.source = ANY(%s))",
        (tsquery_literal(query), heard, sources, sources),
    ).fetchall()
    wanted = set(scored)
    out: list[tuple[int, float]] = []
    for chunk, text in rows:
        length, counts = frequencies(text, wanted)
        norm = K1 * (1 - B + B * length / average) if average else K1
        score = sum(weight[term] * freq * (K1 + 1) / (freq + norm) for term, freq in counts.items())
        out.append((int(chunk), score))
    return out


def frequencies(text: str, wanted: set[str]) -> tuple[int, dict[str, int]]:
    """A tsvector's length (its positions) and how often each of `wanted` occurs."""
    length = 0
    counts: dict[str, int] = {}
    for quoted, at in _LEXEME.findall(text):
        freq = at.count(",") + 1 if at else 1
        length += freq
        lexeme = _unquoted(quoted) if "'" in quoted or "\\" in quoted else quoted
        if lexeme in wanted:
            counts[lexeme] = freq
    return length, counts


def _unquoted(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted.replace("''", "'"))


def quoted(term: str) -> str:
    """`term` as one quoted lexeme of a tsvector or tsquery literal."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_literal(words: Sequence[str]) -> str:
    """Any of these terms, as a tsquery literal ('' when there are none)."""
    return " | ".join(quoted(word) for word in dict.fromkeys(words))
