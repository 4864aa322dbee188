"""Word search ranks as FTS5's `ORDER BY bm25()` over the whole query, without scoring
every match: checked against FTS5 itself on real SQLite indexes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.knowledge import lexical
from bot.knowledge.chunking import Chunk
from bot.knowledge.embedding import TransformersEmbedder
from bot.knowledge.index import KnowledgeIndex, Mode
from bot.knowledge.sources.base import DocumentRef, Visibility

# A few words most chunks hold, some that a tenth hold, codes that one or two hold.
COMMON = ["deploy", "token", "vault", "retry"]
MIDDLE = ["schema", "quota", "replica", "cron", "proxy"]
CODES = [f"acme-{n}" for n in range(4000, 4012)]
VOCABULARY = COMMON + MIDDLE + CODES


def _weighted_word() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(COMMON),
        st.sampled_from(COMMON),
        st.sampled_from(MIDDLE),
        st.sampled_from(CODES),
    )


corpora = st.lists(st.lists(_weighted_word(), min_size=1, max_size=12), min_size=8, max_size=80)
queries = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=6, unique=True)


def _index(root: Path, texts: list[list[str]]) -> KnowledgeIndex:
    index = KnowledgeIndex(root / "knowledge.db", embedder=None)
    with index.writer() as writer:
        for number, words in enumerate(texts):
            ref = DocumentRef("s", f"d{number}", "t", None, None, Visibility.everyone())
            writer.put(ref, digest="x", chunks=[Chunk(section="", text=" ".join(words))])
    return index


def _fts5(index: KnowledgeIndex, wanted: list[str], limit: int) -> list[tuple[int, float]]:
    match = " OR ".join(f'"{term}"' for term in wanted)
    rows = index._read.execute(
        "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
        "ORDER BY bm25(chunks_fts) LIMIT ?",
        (match, limit),
    ).fetchall()
    return [(chunk, float(score)) for chunk, score in rows]


@settings(max_examples=60, deadline=None)
@given(corpora, queries, st.integers(min_value=1, max_value=12))
def test_ranks_as_fts5_ranks_the_whole_query(
    texts: list[list[str]], wanted: list[str], limit: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        index = _index(Path(folder), texts)
        try:
            db = index._read
            got = lexical.search(db, wanted, limit=limit, table=lexical.totals(db), counts={})
            expected = _fts5(index, wanted, limit)
        finally:
            index.close()
    assert np.allclose([s for _, s, _ in got], [s for _, s in expected], rtol=1e-9, atol=0)
    # Chunks tied with the last kept one may be cut either way; all above it must agree.
    if expected:
        last = expected[-1][1]
        assert {c for c, s, _ in got if s > last + 1e-9} == {
            c for c, s in expected if s > last + 1e-9
        }


def test_the_row_count_and_lengths_are_fts5s_own(tmp_path: Path) -> None:
    index = _index(tmp_path, [["deploy", "vault"], ["vault"], ["retry", "retry", "cron"]])
    try:
        assert lexical.totals(index._read) == lexical.Totals(rows=3, average_length=2.0)
    finally:
        index.close()


def test_a_word_most_of_a_large_index_holds_is_a_stop_word(tmp_path: Path) -> None:
    texts = [["deploy", "token"]] * 30 + [["deploy", "acme-4001"], ["acme-4002"]]
    index = _index(tmp_path, texts)
    try:
        db = index._read
        table = lexical.totals(db)
        # Held by 31 of 32 chunks, past `nominating`: it finds nothing on its own ...
        found = lexical.search(db, ["deploy"], limit=5, table=table, counts={}, nominating=10)
        assert found == []
        # ... and beside a code, only chunks holding the code are found.
        found = lexical.search(
            db, ["deploy", "acme-4001"], limit=5, table=table, counts={}, nominating=10
        )
        assert [chunk for chunk, _, _ in found] == [31]
        # Below `nominating` (every small index), it is searched as FTS5 searches it.
        found = lexical.search(db, ["deploy"], limit=5, table=table, counts={})
        assert len(found) == 5
    finally:
        index.close()


async def test_vectors_written_in_batches_belong_to_their_chunks(
    tmp_path: Path, embedder: TransformersEmbedder
) -> None:
    index = KnowledgeIndex(tmp_path / "knowledge.db", embedder=embedder)
    texts = {
        "short": ["Restart it."],
        "long": ["The vault token expired; run acme-vault renew --role deploy. " * 8, "x"],
        "mixed": ["A connection pool ran out.", "Raise max_connections to 200 and redeploy."],
    }
    try:
        with index.writer() as writer:
            for name, bodies in texts.items():
                ref = DocumentRef("s", name, name.title(), None, None, Visibility.everyone())
                writer.put(ref, digest="x", chunks=[Chunk("Fix", body) for body in bodies])
        rows = index._read.execute(
            "SELECT d.title, c.text, c.vector FROM chunks c JOIN documents d ON d.key = c.doc"
        ).fetchall()
        assert len(rows) == 5
        for title, text, blob in rows:
            alone = embedder.embed_passages([f"{title} > Fix\n{text}"])[0]
            assert float(np.frombuffer(blob, dtype=np.float32) @ alone) > 0.999
        best = index.search("pool ran out of connections", channel=None, mode=Mode.DENSE)
        assert best[0].document == "mixed"
    finally:
        index.close()
