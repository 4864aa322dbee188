"""The SQLite index over a real folder: what only it is tested for here (bad files, the
floor, the doctor's rows). What both stores must do is in `test_stores.py`, which runs
each case against this index too."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfWriter

from bot.app.doctor import Status
from bot.app.doctor_knowledge import check_knowledge
from bot.knowledge.index import Floor, KnowledgeIndex
from bot.knowledge.passages import Passage
from bot.knowledge.sync import sync_source
from bot.safety.redaction import Redactor
from bot.settings import Settings
from tests.unit.bot.knowledge.runbooks import TLS, folder, write


async def test_bad_files_are_skipped_with_their_reason(tmp_path: Path) -> None:
    root = tmp_path / "runbooks"
    write(
        root,
        {
            "good.md": TLS,
            "binary.md": bytes(range(256)) * 8,
            "scanned.pdf": _pdf_without_text(),
            "page.html": "<html><head><title>Proxy</title><script>alert('x'.repeat(9))</script>"
            "</head><body><h1>HTTP 407</h1><p>Set HTTPS_PROXY.</p><script>steal()</script>"
            "</body></html>",
        },
    )
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    summary = await sync_source(folder(root), index, redactor=Redactor())
    assert dict(summary.skipped) == {
        "binary.md": "binary.md: not text (binary content)",
        "scanned.pdf": "scanned.pdf: the PDF has no text layer (a scanned PDF needs OCR first)",
    }
    assert summary.added == 2
    page = index.search("HTTP 407 proxy", channel="C1")[0]
    assert page.title == "Proxy"
    assert "steal" not in page.text and "alert" not in page.text


def _pdf_without_text() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_floor_keeps_strong_matches_only() -> None:
    floor = Floor(similarity=0.4, words=3)

    def passage(similarity: float | None, *matched: str) -> Passage:
        return Passage("s", "d", "t", None, "", "x", 0.01, similarity=similarity, matched=matched)

    assert not floor.keeps(passage(0.2, "error", "token"))
    assert not floor.keeps(passage(None, "连接", "接池"))
    assert floor.keeps(passage(0.5))
    assert floor.keeps(passage(None, "acme-4012"))
    assert floor.keeps(passage(None, "err_cert_date_invalid"))
    assert floor.keeps(passage(None, "deploy", "token", "expired"))
    assert floor.keeps(passage(None, "连接", "接池", "池满", "数据", "据库", "vault"))


async def test_doctor_has_a_row_per_source(docs: Path, tmp_path: Path) -> None:
    config = tmp_path / "knowledge.toml"
    config.write_text(
        f'[[sources]]\nname = "runbooks"\ntype = "folder"\npath = "{docs}"\n\n'
        '[[sources]]\nname = "gone"\ntype = "folder"\npath = "nowhere"\n\n'
        '[[sources]]\nname = "wiki"\ntype = "sharepoint"\n'
    )
    settings = Settings(knowledge_config=config, knowledge_index=tmp_path / "k.db")
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(folder(docs), index, redactor=Redactor())
    rows = {check.name: check for check in await check_knowledge(settings)}
    assert rows["knowledge:runbooks"].status is Status.OK
    assert rows["knowledge:runbooks"].found.startswith("reachable; 3 documents, 3 chunks")
    assert rows["knowledge:gone"].status is Status.FAIL
    assert "is not a readable folder" in rows["knowledge:gone"].found
    assert rows["knowledge:wiki"].status is Status.FAIL
    assert "unknown type 'sharepoint'" in rows["knowledge:wiki"].found
