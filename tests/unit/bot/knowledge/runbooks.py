"""A small folder of runbooks both stores' tests and the index's own tests sync: one with
a front-matter title, one keyed by an error code, one in Chinese."""

from __future__ import annotations

from pathlib import Path

from bot.knowledge.sources.base import Visibility
from bot.knowledge.sources.folder import FolderSource

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


def runbooks(root: Path) -> Path:
    """`root` holding the three runbooks (vault.md, net/tls.md, db/pool.md)."""
    write(root, {"vault.md": VAULT, "net/tls.md": TLS, "db/pool.md": CHINESE})
    return root
