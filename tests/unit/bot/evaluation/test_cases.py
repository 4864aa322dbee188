"""The shipped eval set: big and varied enough, labelled, and rendered from its definitions."""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter

import pytest
from PIL import Image

from bot.evaluation.cases import CaseError, load_set, parse_category, select
from bot.messages import Language

ISSUE_CATEGORIES = {
    "python", "javascript", "java", "go", "rust", "http", "database",
    "containers", "ci", "packages", "desktop",
}  # fmt: skip


def test_the_set_has_at_least_80_cases_over_every_category() -> None:
    cases = load_set().cases
    assert len(cases) >= 80
    assert {case.category for case in cases} == ISSUE_CATEGORIES
    assert min(Counter(case.category for case in cases).values()) >= 5


def test_at_least_a_quarter_of_the_users_write_chinese_and_some_cases_mix_languages() -> None:
    cases = load_set().cases
    chinese = [case for case in cases if case.language is Language.CHINESE]
    assert len(chinese) * 4 >= len(cases)
    assert sum(case.mixed for case in cases) >= 5


def test_the_screenshots_vary_like_real_ones() -> None:
    renderings = [case.rendering for case in load_set().cases]
    styles = {r.style for r in renderings}
    assert {"terminal-dark", "terminal-light", "ide-dark", "ide-light", "browser"} <= styles
    assert {"console", "dialog"} <= styles
    assert len({r.font for r in renderings}) >= 4
    assert len({r.size for r in renderings}) >= 4
    assert {1, 2} <= {r.scale for r in renderings}
    effects = Counter(e.partition(":")[0] for r in renderings for e in r.effects)
    assert effects["jpeg"] >= 5 and effects["crop"] >= 3 and effects["photo"] >= 3
    assert effects["desktop"] >= 5


def test_some_cases_plant_a_secret_that_is_on_the_screen() -> None:
    cases = load_set().cases
    planted = [case for case in cases if case.secret]
    assert len(planted) >= 5
    assert all(case.secret in case.rendering.text for case in planted)


def test_some_cases_come_without_a_question_and_some_ask_a_follow_up() -> None:
    assert sum(not case.question for case in load_set().cases) >= 10
    assert sum(bool(case.follow_up) for case in load_set().cases) >= 3


def test_every_case_is_rendered_and_the_manifest_describes_the_committed_file() -> None:
    eval_set = load_set()
    assert set(eval_set.rendered) == {case.id for case in eval_set.cases}
    for case in eval_set.cases:
        entry = eval_set.rendered[case.id]
        data = eval_set.image(case).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256, case.id
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (entry.width, entry.height), case.id
        assert entry.smallest_line_px > 0


def test_the_manifest_records_the_fonts_the_generator_used() -> None:
    fonts = load_set().fonts
    assert any("wqy" in path for path in fonts.values()), "a CJK font draws the Chinese cases"
    assert all(path.startswith("/usr/share/fonts/") for path in fonts.values())


def test_the_set_is_a_few_megabytes_at_most() -> None:
    eval_set = load_set()
    total = sum(len(eval_set.image(case).read_bytes()) for case in eval_set.cases)
    assert total < 5 * 1024 * 1024


# A generic answer no case's labels should accept: the labels must say something specific.
GENERIC_ANSWERS = [
    "Something went wrong. 1. Restart the application. 2. Contact support if it persists.",
    "出现了一个错误。1. 重启应用程序。2. 如果问题仍然存在，请联系技术支持。",
]


@pytest.mark.parametrize("answer", GENERIC_ANSWERS)
def test_no_case_accepts_a_generic_answer_as_its_cause(answer: str) -> None:
    accepting = [case.id for case in load_set().cases if any(p.search(answer) for p in case.cause)]
    assert accepting == []


def _definition(**fields: str) -> str:
    base = {
        "id": '"x-case"',
        "language": '"en"',
        "cause": "['disk full']",
        "fix": "['free space']",
        "text": "'''\nENOSPC: no space left on device\n'''",
    }
    base.update(fields)
    return "[[case]]\n" + "\n".join(f"{key} = {value}" for key, value in base.items())


def test_a_definition_parses_into_a_case() -> None:
    (case,) = parse_category("demo", _definition(question='"why?"'))
    assert case.category == "demo" and case.question == "why?"
    assert case.language is Language.ENGLISH
    assert case.cause[0].search("The DISK is\nFULL") is None  # words between
    assert case.cause[0].search("DISK FULL")


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"id": '"Bad Id"'}, "bad case id"),
        ({"language": '"fr"'}, "language must be"),
        ({"cause": "[]"}, "`cause` must be"),
        ({"fix": "['(unclosed']"}, "bad pattern in `fix`"),
        ({"secret": '"hunter2"'}, "planted secret does not appear"),
        ({"text": "''"}, "`text`"),
        ({"scale": "3"}, "scale must be"),
    ],
)
def test_a_bad_definition_is_refused_saying_why(fields: dict[str, str], complaint: str) -> None:
    with pytest.raises(CaseError, match=re.escape(complaint)):
        parse_category("demo", _definition(**fields))


def test_a_toml_syntax_error_names_the_file() -> None:
    with pytest.raises(CaseError, match=r"demo\.toml"):
        parse_category("demo", "[[case]\nid = 1")


def test_select_filters_by_category_language_id_and_limit() -> None:
    cases = load_set().cases
    go = select(cases, categories=("go",))
    assert go and all(case.category == "go" for case in go)
    chinese_go = select(cases, categories=("go",), languages=(Language.CHINESE,))
    assert chinese_go and all(case.language is Language.CHINESE for case in chinese_go)
    assert len(chinese_go) < len(go)
    assert [case.id for case in select(cases, ids=("go-deadlock",))] == ["go-deadlock"]
    assert len(select(cases, limit=3)) == 3
