"""The word half of search: FTS5's own BM25 ranking, without scoring every match.

FTS5 computes `bm25()` for every row a query matches before `ORDER BY ... LIMIT`
keeps the best, so one word that a tenth of 100,000 chunks hold costs a pass over
10,000 rows. Max-score pruning (Turtle & Flood 1995) avoids it: the most common
query terms are left out of the FTS5 query, the candidates the rarer terms find are
scored over all terms, and the answer is kept only if no row left out could reach
them (a term adds at most idf * (k1 + 1)); otherwise the full query runs.

One departure, for large indexes only: a word that more than half of the chunks hold,
and at least `NOMINATING` of them, is a stop word: BM25's idf,
log((N - n + 0.5) / (n + 0.5)), is negative there and FTS5 floors it at 1e-6, so it
adds at most 2.2e-6 to a score, yet it would cost a pass over half the index.
Chunks holding nothing but such words are no longer candidates.

Scores are FTS5's: the same k1, b, idf floor, row count, average length and row
lengths, read from FTS5's own tables (fts5_aux.c, `fts5Bm25Function`;
https://sqlite.org/fts5.html#the_bm25_function).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

K1 = 1.2
B = 0.75
IDF_FLOOR = 1e-6
# A term held by at least this share of the chunks may be left out of the FTS5 query.
COMMON_SHARE = 0.05
# Below this many chunks a word is cheap to score wherever it appears (a few ms).
NOMINATING = 2000


@dataclass(frozen=True)
class Totals:
    """What FTS5's bm25 reads about the whole table: rows and their average length."""

    rows: int
    average_length: float


def totals(db: sqlite3.Connection) -> Totals:
    """FTS5's averages record (`%_data` id 1: varints, the row count then tokens per
    column), the same numbers `xRowCount` and `xColumnTotalSize` give bm25."""
    row = db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return Totals(0, 0.0)
    values = _varints(bytes(row[0]))
    rows = values[0] if values else 0
    tokens = sum(values[1:])
    return Totals(rows, tokens / rows if rows else 0.0)


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (big-endian groups of 7 bits; a ninth byte gives all 8)."""
    values: list[int] = []
    position = 0
    while position < len(blob):
        value = 0
        for length in range(9):
            if position >= len(blob):
                return values
            byte = blob[position]
            position += 1
            if length == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        values.append(value)
    return values


def idf(rows: int, hits: int) -> float:
    """FTS5's idf of a term that `hits` of `rows` rows hold."""
    value = math.log((rows - hits + 0.5) / (hits + 0.5))
    return value if value > 0.0 else IDF_FLOOR


def search(
    db: sqlite3.Connection,
    wanted: Sequence[str],
    *,
    limit: int,
    table: Totals,
    counts: dict[str, int],
    nominating: int = NOMINATING,
) -> list[tuple[int, float, int]]:
    """The `limit` best chunks for any of `wanted` (distinct terms) as (chunk, BM25, doc),
    best first, as `ORDER BY bm25(chunks_fts) LIMIT limit` ranks them (ties by chunk id).

    `counts` caches how many rows hold each term; the caller empties it when the
    index changes. `nominating`: see the module's note on stop words.
    """
    if not wanted or table.rows == 0:
        return []
    hits = {term: _rows_holding(db, term, counts) for term in wanted}
    present = [term for term in wanted if hits.get(term)]
    if not present:
        return []
    weight = {term: idf(table.rows, hits[term]) for term in present}
    # Words that more than half the chunks hold are worth 1e-6 (the floor) yet cost a
    # pass over those chunks; past NOMINATING rows they are stop words.
    kept = [term for term in present if weight[term] > IDF_FLOOR or hits[term] < nominating]
    if not kept:
        return []
    common: list[str] = []
    for term in sorted(kept, key=lambda term: -hits[term])[:-1]:  # one term stays
        if hits[term] < COMMON_SHARE * table.rows:
            break
        common.append(term)
    if common:
        essential = [term for term in kept if term not in common]
        found = _scored(db, essential, kept, weight, limit * 2, table)
        ceiling = sum(weight[term] * (K1 + 1) for term in common)
        # A row the essential terms ranked below the last fetched one, or did not find,
        # scores at most the last one's essential part plus every common term's ceiling.
        outside = ceiling + (found[-1][3] if len(found) == limit * 2 else 0.0)
        best = sorted(found, key=lambda row: (-row[1], row[0]))[:limit]
        if len(best) == limit and best[-1][1] > outside:
            return [(chunk, score, doc) for chunk, score, doc, _ in best]
    rows = db.execute(
        "SELECT f.rowid, -bm25(chunks_fts), c.doc FROM chunks_fts f "
        "JOIN chunks c ON c.id = f.rowid WHERE chunks_fts MATCH ? "
        "ORDER BY bm25(chunks_fts), f.rowid LIMIT ?",
        (_match(kept), limit),
    ).fetchall()
    return [(chunk, float(score), doc) for chunk, score, doc in rows]


def _rows_holding(db: sqlite3.Connection, term: str, counts: dict[str, int]) -> int:
    """FTS5's own count of the rows holding `term` (a doclist walk without positions,
    several times faster than fts5vocab, which decodes them), remembered in `counts`:
    a common word costs milliseconds to count and recurs in most questions."""
    found = counts.get(term)
    if found is None:
        if len(counts) >= 50_000:
            counts.clear()
        found = db.execute(
            "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (_match([term]),)
        ).fetchone()[0]
        counts[term] = found
    return found


def _match(query: Sequence[str]) -> str:
    return " OR ".join(f'"{term}"' for term in query)


def _scored(
    db: sqlite3.Connection,
    query: Sequence[str],
    scored: Sequence[str],
    weight: dict[str, float],
    limit: int,
    table: Totals,
) -> list[tuple[int, float, int, float]]:
    """The `limit` best rows for `query` by FTS5, each rescored over all `scored` terms:
    (chunk, full BM25, doc, BM25 of the `query` terms alone), in FTS5's order."""
    rows = db.execute(
        "SELECT f.rowid, f.terms, s.sz, c.doc FROM chunks_fts f "
        "JOIN chunks_fts_docsize s ON s.id = f.rowid JOIN chunks c ON c.id = f.rowid "
        "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?",
        (_match(query), limit),
    ).fetchall()
    asked = set(query)
    out: list[tuple[int, float, int, float]] = []
    for chunk, text, size, doc in rows:
        length = sum(_varints(bytes(size)))
        norm = K1 * (1 - B + B * length / table.average_length)
        counts = Counter(word for word in text.split() if word in weight)
        total = part = 0.0
        for term in scored:
            freq = counts.get(term, 0)
            if freq:
                value = weight[term] * freq * (K1 + 1) / (freq + norm)
                total += value
                if term in asked:
                    part += value
        out.append((chunk, total, doc, part))
    return out
