"""The shipped sample knowledge base: big enough, Chinese enough, and honest cases over it."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

from bot.evaluation import knowledge_generate

ROOT = Path(knowledge_generate.__file__).parent / "knowledge_set"
DOCS = ROOT / "docs"
FRONT_MATTER = re.compile(
    r"\A---\ntitle: \"(?P<title>[^\"\n]+)\"\nlang: (?P<lang>en|zh)\n.*?\n---\n", re.S
)


def _documents() -> dict[str, tuple[str, str, str]]:
    """path inside docs/ → (title, lang, text)."""
    out: dict[str, tuple[str, str, str]] = {}
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        match = FRONT_MATTER.match(text)
        assert match, f"{path} has no title/lang front matter"
        out[path.relative_to(DOCS).as_posix()] = (match["title"], match["lang"], text)
    return out


def _cases() -> list[dict[str, object]]:
    with (ROOT / "cases.toml").open("rb") as fh:
        cases = tomllib.load(fh)["cases"]
    assert isinstance(cases, list)
    return cases


def test_the_set_has_150_documents_with_headings_and_a_quarter_in_chinese() -> None:
    docs = _documents()
    assert len(docs) >= 150
    langs = Counter(lang for _, lang, _ in docs.values())
    assert langs["zh"] >= 38
    assert langs["zh"] / len(docs) >= 0.25
    for path, (title, _, text) in docs.items():
        assert f"\n# {title}\n" in text, path
        assert "\n## " in text, f"{path} has no sections"


def test_the_set_holds_internal_codes_with_near_misses_beside_them() -> None:
    codes = Counter(
        m for _, _, text in _documents().values() for m in set(re.findall(r"ACME-\d{4}", text))
    )
    assert "ACME-4012" in codes
    # Near misses: codes that share their last two digits (the failure mode) across systems.
    modes = Counter(code[-2:] for code in codes)
    assert sum(1 for n in modes.values() if n >= 3) >= 8


def test_there_are_40_cases_each_needing_one_existing_document() -> None:
    docs = _documents()
    cases = _cases()
    assert len(cases) >= 40
    assert len({c["id"] for c in cases}) == len(cases)
    targets = Counter(str(c["document"]) for c in cases)
    assert set(targets) <= set(docs), set(targets) - set(docs)
    assert len(targets) >= 30
    for case in cases:
        title, _, text = docs[str(case["document"])]
        question = str(case["question"])
        # Honest: the question never carries the target's title.
        assert title.casefold() not in question.casefold(), case["id"]
        keywords = case["keywords"]
        assert isinstance(keywords, list) and keywords, case["id"]
        for word in keywords:
            assert str(word) in text, (case["id"], word)


def test_the_cases_are_asked_in_english_chinese_and_both() -> None:
    langs = Counter(str(c["language"]) for c in _cases())
    assert langs["en"] >= 10 and langs["zh"] >= 10 and langs["mixed"] >= 5
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for case in _cases():
        has_cjk = bool(cjk.search(str(case["question"])))
        assert has_cjk == (case["language"] in {"zh", "mixed"}), case["id"]
    # Some users paste only the error line.
    assert any(re.fullmatch(r"ACME-\d{4}: .*", str(c["question"])) for c in _cases())


def test_the_committed_files_are_what_the_generator_writes() -> None:
    assert knowledge_generate.main(["--check"]) == 0
