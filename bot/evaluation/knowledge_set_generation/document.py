"""One document of the set, and its Markdown with front matter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Doc:
    path: str
    title: str
    lang: str
    body: str
    kind: str
    system: str
    code: str = ""
    message: str = ""
    keywords: list[str] = field(default_factory=list)
    symptom_en: str = ""
    symptom_zh: str = ""


def render(doc: Doc) -> str:
    tags = [doc.kind, doc.system]
    header = f"---\ntitle: {json.dumps(doc.title, ensure_ascii=False)}\nlang: {doc.lang}\ntags: {json.dumps(tags)}\n---\n\n"
    return header + f"# {doc.title}\n\n" + doc.body
