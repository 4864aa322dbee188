"""The index over a real folder, with the real small embedding model."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pypdf import PdfWriter

from bot.app.doctor import Status
from bot.app.doctor_knowledge import check_knowledge
from bot.errors import KnowledgeSourceError
from bot.knowledge.embedding import TransformersEmbedder
from bot.knowledge.index import Floor, KnowledgeIndex, Mode
from bot.knowledge.passages import Passage
from bot.knowledge.sources.base import Document, DocumentRef, Visibility
from bot.knowledge.sources.folder import FolderSource
from bot.knowledge.sync import sync_source
from bot.safety.redaction import Redactor
from bot.settings import Settings

VAULT = """---
title: Vault token renewal
---
# Vault

## ACME-4012: vault token expired

Run `acme-vault renew --role deploy` and restart the deploy job.
"""
TLS = (
    "# TLS certificates\n\n## ERR_CERT_DATE_INVALID\n\n"
    "The certificate expired; renew it with certbot.\n"
)
CHINESE = "# 数据库连接\n\n## 连接池耗尽\n\n报错“连接池已满”时，把 max_connections 调大到 200。\n"


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, "utf-8")


def folder(root: Path, *, channels: list[str] | None = None) -> FolderSource:
    visibility = Visibility.everyone() if channels is None else Visibility.only(channels)
    return FolderSource(
        name="runbooks",
        root=root,
        visibility=visibility,
        url_template="https://git.example.com/ops/runbooks/blob/main/{path}",
    )


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "runbooks"
    write(root, {"vault.md": VAULT, "net/tls.md": TLS, "db/pool.md": CHINESE})
    return root


async def test_sync_indexes_titles_sections_and_links(
    docs: Path, tmp_path: Path, embedder: TransformersEmbedder
) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=embedder)
    summary = await sync_source(folder(docs), index, redactor=Redactor())
    assert (summary.added, summary.changed, summary.removed, summary.skipped) == (3, 0, 0, [])

    best = index.search("ACME-4012 when deploying", channel="C1")[0]
    assert best.title == "Vault token renewal"
    assert best.section == "Vault > ACME-4012: vault token expired"
    assert best.url == "https://git.example.com/ops/runbooks/blob/main/vault.md"
    assert index.search("连接池满了怎么办", channel="C1")[0].document == "db/pool.md"
    assert index.search("ERR_CERT_DATE_INVALID", channel="C1", mode=Mode.LEXICAL)[0].document == (
        "net/tls.md"
    )


async def test_resync_is_incremental_and_removes_deleted(docs: Path, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(folder(docs), index, redactor=Redactor())
    again = await sync_source(folder(docs), index, redactor=Redactor())
    assert (again.added, again.changed, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert index.counts()["runbooks"] == (3, 3)

    (docs / "net/tls.md").unlink()
    write(docs, {"vault.md": VAULT + "\nAlso check the role's TTL.\n"})
    third = await sync_source(folder(docs), index, redactor=Redactor())
    assert (third.added, third.changed, third.unchanged, third.removed) == (0, 1, 1, 1)
    assert index.counts()["runbooks"] == (2, 2)
    assert index.search("ERR_CERT_DATE_INVALID", channel="C1") == []


class _FailsHalfWay:
    """Lists two documents, then fails as a vendor API does when it goes away."""

    name = "runbooks"

    def __init__(self, inner: FolderSource) -> None:
        self._inner = inner

    async def documents(self) -> AsyncIterator[DocumentRef]:
        count = 0
        async for ref in self._inner.documents():
            yield ref
            count += 1
            if count == 2:
                raise KnowledgeSourceError(self.name, "HTTP 503 while listing")

    async def fetch(self, ref: DocumentRef) -> Document:
        return await self._inner.fetch(ref)


async def test_a_sync_failing_half_way_keeps_the_previous_index(docs: Path, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(folder(docs), index, redactor=Redactor())
    write(docs, {"vault.md": VAULT.replace("restart the deploy job", "page the SRE on call")})
    failed = await sync_source(_FailsHalfWay(folder(docs)), index, redactor=Redactor())
    assert failed.error == "HTTP 503 while listing"
    assert index.counts()["runbooks"] == (3, 3)
    assert "restart the deploy job" in index.search("ACME-4012", channel="C1")[0].text


async def test_private_documents_reach_only_their_channels(docs: Path, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(folder(docs, channels=["CPRIVATE"]), index, redactor=Redactor())
    assert index.search("ACME-4012", channel="CPRIVATE")
    assert index.search("ACME-4012", channel="CPUBLIC") == []
    assert index.search("ACME-4012", channel=None) == []
    assert index.search("ACME-4012", channel="CPRIVATE", sources=["other"]) == []


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


async def test_secrets_are_never_stored(tmp_path: Path) -> None:
    root = tmp_path / "runbooks"
    key = "AKIA" + "Q" * 16
    token = "xoxb-" + "1234567890-" * 2 + "abcdefghijklmnopqrstuvwx"
    write(root, {"creds.md": f"# Deploy keys\n\nUse {key} and {token} to deploy.\n"})
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(folder(root), index, redactor=Redactor())
    stored = (tmp_path / "k.db").read_bytes()
    for wal in tmp_path.glob("k.db-*"):
        stored += wal.read_bytes()
    assert key.encode() not in stored and token.encode() not in stored
    assert index.search("deploy keys", channel="C1")


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
