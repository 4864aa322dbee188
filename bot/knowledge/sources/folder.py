"""A folder (or a git checkout) of runbooks: Markdown, reStructuredText, HTML, text and PDF.

Each file is one document whose id is its path inside the folder (`/`-separated),
linked through `url_template` (`https://git.example.com/ops/runbooks/blob/main/{path}`).
Titles come from front matter (`title:`), else the first heading, else the file name.
Headings become Markdown `#` lines, so chunks follow them whatever the format.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from bot.errors import KnowledgeSourceError
from bot.knowledge.formats import SUFFIXES, read_file
from bot.knowledge.sources.base import Document, DocumentRef, Visibility

_SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__"})


class FolderSource:
    """Every readable file under `root`.

    Args:
        name: the source's configured name.
        root: the folder.
        visibility: who may be answered from its documents.
        url_template: each document's link, `{path}` standing for its path in the folder.
        max_bytes: larger files are skipped with that reason.
    """

    def __init__(
        self,
        *,
        name: str,
        root: Path,
        visibility: Visibility,
        url_template: str | None = None,
        max_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self._name = name
        self._root = root
        self._visibility = visibility
        self._url_template = url_template
        self._max_bytes = max_bytes

    @property
    def name(self) -> str:
        return self._name

    async def documents(self) -> AsyncIterator[DocumentRef]:
        if not self._root.is_dir():
            raise KnowledgeSourceError(self._name, f"{self._root} is not a readable folder")
        files = await asyncio.to_thread(self._list)
        for path, stat in files:
            relative = path.relative_to(self._root).as_posix()
            yield DocumentRef(
                source=self._name,
                id=relative,
                title=path.stem,
                url=self._url(relative),
                updated=datetime.fromtimestamp(stat[1], tz=UTC),
                visibility=self._visibility,
                version=f"{stat[0]}:{stat[1]}",
            )

    async def fetch(self, ref: DocumentRef) -> Document:
        path = self._root / ref.id
        # The id came from our own listing, but a symlink may point anywhere.
        resolved = path.resolve()
        if not resolved.is_relative_to(self._root.resolve()):
            raise KnowledgeSourceError(self._name, f"{ref.id} points outside the folder")
        size = resolved.stat().st_size
        if size > self._max_bytes:
            raise KnowledgeSourceError(
                self._name, f"{ref.id} is {size:,} bytes, over the {self._max_bytes:,}-byte cap"
            )
        data = await asyncio.to_thread(resolved.read_bytes)
        read = await asyncio.to_thread(read_file, data, suffix=resolved.suffix.lower())
        if read.error:
            raise KnowledgeSourceError(self._name, f"{ref.id}: {read.error}")
        title = read.title or ref.title
        return Document(ref=_with_title(ref, title), text=read.text)

    def _list(self) -> list[tuple[Path, tuple[int, float]]]:
        found = []
        for path in sorted(self._root.rglob("*")):
            parts = path.relative_to(self._root).parts
            if any(part in _SKIPPED_DIRECTORIES or part.startswith(".") for part in parts):
                continue
            if path.suffix.lower() in SUFFIXES and path.is_file():
                stat = path.stat()
                found.append((path, (stat.st_size, stat.st_mtime)))
        return found

    def _url(self, relative: str) -> str | None:
        if self._url_template is None:
            return None
        return self._url_template.replace("{path}", quote(relative, safe="/"))


def _with_title(ref: DocumentRef, title: str) -> DocumentRef:
    return replace(ref, title=title)
