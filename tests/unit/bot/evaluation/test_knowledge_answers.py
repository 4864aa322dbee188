"""The answer side of the knowledge eval: an answer's [n] markers mapped to the passages its
prompt held, scored against the one document each case needs, and reported."""

from __future__ import annotations

import json
import re

from bot.evaluation.knowledge_answers import (
    CitedAnswer,
    citation_table,
    cited_answer,
    summarise_citations,
)
from bot.evaluation.knowledge_eval import KnowledgeCase, load_cases
from bot.evaluation.reporting import html_report, to_json
from bot.knowledge.passages import Passage


def _case(case_id: str) -> KnowledgeCase:
    return next(case for case in load_cases() if case.id == case_id)


def _passage(document: str, text: str = "") -> Passage:
    return Passage("sample", document, document.rsplit("/", 1)[-1], None, "", text, 1.0)


LOCK = _case("kb-001")  # needs runbooks/billing/acme-4433-lock.md
OTHER = "runbooks/billing/acme-4445-schema.md"
PROMPTED = [_passage(OTHER), _passage(LOCK.document), _passage(LOCK.document)]


def test_an_answer_citing_a_passage_of_the_right_document_cites_right() -> None:
    answer = (
        "The `release` lock is held by a worker that died. Break it with "
        "`acmectl billing lock break release` [2]; if it comes back within 20 minutes, "
        "see [3] and [2] again."
    )
    scored = cited_answer(LOCK, answer, PROMPTED)
    assert scored.citations == (2, 3)
    assert scored.cited_documents == (LOCK.document,)
    assert scored.cites and scored.cites_right and scored.right_given


def test_an_answer_citing_only_another_document_cites_but_not_right() -> None:
    answer = "Run the schema migration first: `acmectl billing migrate up --to 139` [1]."
    scored = cited_answer(LOCK, answer, PROMPTED)
    assert scored.cites and not scored.cites_right and scored.right_given


def test_markers_past_the_passages_and_bare_numbers_are_no_citations() -> None:
    answer = "Retry after 60s (see [7]); step 2 of 3, code 4433, [0] is no passage."
    scored = cited_answer(LOCK, answer, PROMPTED)
    assert scored.citations == () and not scored.cites and not scored.cites_right


def test_a_chinese_answer_cites_with_the_same_markers() -> None:
    case = _case("kb-003")  # needs runbooks/billing/acme-4457-pool.md
    passages = [_passage(case.document), _passage(OTHER)]
    answer = "连接池耗尽了：把 `pool_size = 256` 写进配置，然后重启服务[1]。"
    scored = cited_answer(case, answer, passages)
    assert scored.citations == (1,) and scored.cites_right


def test_a_chinese_answer_citing_with_full_width_brackets_cites_the_same() -> None:
    case = _case("kb-003")
    passages = [_passage(OTHER), _passage(case.document)]
    for marker in ("\u30102\u3011", "\uff3b2\uff3d", "\uff3b\uff12\uff3d"):
        scored = cited_answer(
            case, f"把 `pool_size = 256` 写进配置，然后重启服务{marker}。", passages
        )
        assert scored.citations == (2,) and scored.cites_right, marker


def test_the_right_document_missing_from_the_prompt_is_told_apart() -> None:
    scored = cited_answer(LOCK, "Check the schema [1].", [_passage(OTHER)])
    assert scored.cites and not scored.cites_right and not scored.right_given


def test_the_shares_count_a_failed_case_against_every_measure() -> None:
    answers = [
        cited_answer(LOCK, "Break the lock [2].", PROMPTED),
        cited_answer(LOCK, "Migrate first [1].", PROMPTED),
        cited_answer(LOCK, "No idea.", [_passage(OTHER)]),
        CitedAnswer("kb-009", LOCK.document, (), (), error="GenerationTimeout: too slow"),
    ]
    scores = summarise_citations(answers)
    assert (scores.cases, scores.failed) == (4, 1)
    assert scores.cite_rate == 0.5  # 2 of 4
    assert scores.right_citation_rate == 0.25  # 1 of 4
    assert scores.right_given_rate == 0.5  # the right document was in 2 prompts
    assert scores.right_when_given == 0.5  # and cited right in 1 of those
    row = citation_table(scores).splitlines()[-1]
    assert [cell.strip() for cell in row.strip("|").split("|")] == [
        "4", "1", "0.500", "0.250", "0.500", "0.500"
    ]  # fmt: skip
    assert summarise_citations([]).right_when_given is None


def test_the_report_carries_the_citations_in_json_and_html() -> None:
    hostile = "Break it [2] <script>alert(1)</script> [evil](javascript:alert(1))"
    answers = [
        cited_answer(LOCK, hostile, PROMPTED),
        cited_answer(LOCK, "Migrate first [1].", PROMPTED),
    ]
    document = json.loads(to_json([], [], {"engine": "local"}, answers))
    knowledge = document["knowledge"]
    assert knowledge["summary"]["right_citation_rate"] == 0.5
    first, second = knowledge["cases"]
    assert first["cited_documents"] == [LOCK.document] and first["cites_right"] is True
    assert second["citations"] == [1] and second["cites_right"] is False
    assert second["given"] == [OTHER, LOCK.document, LOCK.document]
    page = html_report([], [], {"engine": "local"}, images="images", knowledge=answers)
    assert "cite the right document" in page and "<td>50%</td>" in page
    assert f"[2] {LOCK.document}" in page
    assert "<script>" not in page and not re.search(r'href="javascript:', page)
    assert "Knowledge" not in html_report([], [], {}, images="images")
