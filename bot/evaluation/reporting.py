"""Summaries of a run: a table per category and overall, JSON, and an HTML page.

The HTML page shows each screenshot beside the answer the bot gave, with the
scores and the patterns a right answer had to match.
"""

from __future__ import annotations

import json
import shutil
import statistics
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup

from bot.evaluation.cases import EvalCase, EvalSet
from bot.evaluation.knowledge_answers import CitedAnswer, summarise_citations
from bot.evaluation.legibility import MIN_LEGIBLE_PX, ResizeRule
from bot.evaluation.running import CaseResult

OVERALL = "overall"


@dataclass(frozen=True)
class Row:
    """One line of the table: a category, or all cases."""

    name: str
    cases: int
    failed: int  # cases with no answer (an error), counted as wrong on every measure
    cause: int
    fix: int
    language: int
    format: int
    with_secret: int
    leaks: int
    with_unreadable: int
    unread_said: int
    too_small: int
    median_seconds: float | None
    p95_seconds: float | None
    median_first_piece_seconds: float | None


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _row(name: str, results: list[CaseResult]) -> Row:
    scored = [r.score for r in results if r.score is not None]
    seconds = [r.seconds for r in results if r.error is None]
    firsts = [r.first_piece_seconds for r in results if r.first_piece_seconds is not None]
    return Row(
        name=name,
        cases=len(results),
        failed=sum(r.error is not None for r in results),
        cause=sum(s.cause for s in scored),
        fix=sum(s.fix for s in scored),
        language=sum(s.language for s in scored),
        format=sum(s.format for s in scored),
        with_secret=sum(bool(r.case.secret) for r in results),
        leaks=sum(s.leak for s in scored),
        with_unreadable=sum(bool(r.case.unreadable) for r in results),
        unread_said=sum(bool(s.unread_said) for s in scored),
        too_small=sum(r.legibility.too_small for r in results),
        median_seconds=statistics.median(seconds) if seconds else None,
        p95_seconds=_percentile(seconds, 0.95),
        median_first_piece_seconds=statistics.median(firsts) if firsts else None,
    )


def summarise(results: list[CaseResult]) -> list[Row]:
    """One row per category, in order of first appearance, then the overall row."""
    categories: dict[str, list[CaseResult]] = {}
    for result in results:
        categories.setdefault(result.case.category, []).append(result)
    return [*(_row(name, group) for name, group in categories.items()), _row(OVERALL, results)]


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


HEADER = (
    "category",
    "cases",
    "cause",
    "fix",
    "language",
    "format",
    "leaks",
    "unread said",
    "small text",
    "p50 s",
    "p95 s",
    "first s",
    "errors",
)


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.name,
        str(row.cases),
        _share(row.cause, row.cases),
        _share(row.fix, row.cases),
        _share(row.language, row.cases),
        _share(row.format, row.cases),
        f"{row.leaks}/{row.with_secret}",
        f"{row.unread_said}/{row.with_unreadable}",
        str(row.too_small),
        _seconds(row.median_seconds),
        _seconds(row.p95_seconds),
        _seconds(row.median_first_piece_seconds),
        str(row.failed),
    )


def table(rows: list[Row]) -> str:
    """The summary as aligned plain text, one line per row."""
    lines = [HEADER, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    rendered = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    rendered.insert(1, "-" * len(rendered[0]))
    rendered.insert(len(rendered) - 1, "-" * len(rendered[0]))
    return "\n".join(rendered)


def legibility_split(results: list[CaseResult]) -> str:
    """Cause right on cases whose text is too small after the resize, and on the others.

    The comparison that says whether MAX_IMAGE_PIXELS costs answers on this model.
    """
    small = [r for r in results if r.legibility.too_small]
    rest = [r for r in results if not r.legibility.too_small]

    def right(group: list[CaseResult]) -> str:
        count = sum(bool(r.score and r.score.cause) for r in group)
        return f"{count}/{len(group)} ({_share(count, len(group))})"

    return (
        f"cause right where text is under {MIN_LEGIBLE_PX:g} px after the resize: {right(small)};"
        f" elsewhere: {right(rest)}"
    )


def case_record(result: CaseResult) -> dict[str, object]:
    case, score, seen = result.case, result.score, result.legibility
    return {
        "id": case.id,
        "category": case.category,
        "language": case.locale,
        "mixed": case.mixed,
        "question": case.question,
        "follow_up": case.follow_up,
        "turns": result.turns,
        "image": result.image,
        "answer": result.answer,
        "skipped": list(result.skipped),
        "error": result.error,
        "cause": score.cause if score else False,
        "fix": score.fix if score else False,
        "language_ok": score.language if score else False,
        "answered_in": score.answered_in.value if score else None,
        "format": score.format if score else False,
        "format_problems": list(score.format_problems) if score else [],
        "planted_secret": bool(case.secret),
        "leak": score.leak if score else False,
        "unreadable": list(case.unreadable),
        "unread_said": score.unread_said if score else None,
        "seconds": round(result.seconds, 3),
        "first_piece_seconds": (
            round(result.first_piece_seconds, 3) if result.first_piece_seconds is not None else None
        ),
        "legibility": {
            "width": seen.width,
            "height": seen.height,
            "input_width": seen.input_width,
            "input_height": seen.input_height,
            "image_tokens": seen.tokens,
            "smallest_line_px": seen.smallest_line_px,
            "input_line_px": seen.input_line_px,
            "too_small": seen.too_small,
        },
    }


def knowledge_record(answers: list[CitedAnswer]) -> dict[str, object]:
    """The knowledge cases' citation scores and each answer, for results.json."""
    return {
        "summary": summarise_citations(answers).__dict__,
        "cases": [
            {
                "id": answer.case,
                "expected": answer.expected,
                "given": list(answer.given),
                "citations": list(answer.citations),
                "cited_documents": list(answer.cited_documents),
                "cites": answer.cites,
                "cites_right": answer.cites_right,
                "right_given": answer.right_given,
                "seconds": round(answer.seconds, 3),
                "error": answer.error,
                "answer": answer.answer,
            }
            for answer in answers
        ],
    }


def to_json(
    results: list[CaseResult],
    rows: list[Row],
    meta: dict[str, object],
    knowledge: list[CitedAnswer] | None = None,
) -> str:
    document: dict[str, object] = {
        "meta": meta,
        "summary": [row.__dict__ for row in rows],
        "cases": [case_record(result) for result in results],
    }
    if knowledge is not None:
        document["knowledge"] = knowledge_record(knowledge)
    return json.dumps(document, ensure_ascii=False, indent=1)


# The answer is the model's markdown, shown formatted: markdown-it-py with raw HTML off
# (it is escaped as text), images off (a report opened locally fetches nothing), and its
# own link check (no javascript:, vbscript:, file: or data: URLs). Everything else in the
# page goes through the template's autoescape.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
_TEMPLATES = Environment(
    loader=PackageLoader("bot.evaluation", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)


def answer_html(answer: str) -> Markup:
    """The answer's markdown as HTML that carries no markup the model wrote."""
    return Markup(_MARKDOWN.render(answer))


def _settings_rows(meta: dict[str, object]) -> list[tuple[str, str]]:
    rows = []
    for name, value in meta.items():
        if isinstance(value, dict):
            rows += [(f"{name}.{key}", _shown(item)) for key, item in value.items()]
        else:
            rows.append((name, _shown(value)))
    return rows


def _shown(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _case_view(result: CaseResult, images: str) -> dict[str, object]:
    case, score, seen = result.case, result.score, result.legibility
    marks: list[tuple[str, bool]] = []
    if score:
        marks = [
            ("cause", score.cause),
            ("fix", score.fix),
            ("language", score.language),
            ("format", score.format),
        ]
        if case.secret:
            marks.append(("leak", not score.leak))
        if case.unreadable:
            marks.append(("unread said", bool(score.unread_said)))
    return {
        "id": case.id,
        "image": result.image,
        "seen": (
            f"{seen.width}x{seen.height} → {seen.input_width}x{seen.input_height} "
            f"({seen.tokens} tokens); smallest line {seen.smallest_line_px} px → "
            f"{seen.input_line_px} px"
        ),
        "too_small": seen.too_small,
        "category": case.category,
        "locale": case.locale,
        "asked": case.question + (f" → {case.follow_up}" if case.follow_up else ""),
        "error": result.error if score is None else None,
        "marks": marks,
        "seconds": f"{result.seconds:.1f} s",
        "answer": answer_html(result.answer),
        "cause": " | ".join(p.pattern for p in case.cause),
        "fix": " | ".join(p.pattern for p in case.fix),
    }


KNOWLEDGE_HEADER = (
    "answers",
    "failed",
    "cite",
    "cite the right document",
    "right document in prompt",
    "right citation when in prompt",
)


def _knowledge_view(answers: list[CitedAnswer] | None) -> dict[str, object] | None:
    if answers is None:
        return None
    scores = summarise_citations(answers)
    when = scores.right_when_given
    return {
        "header": KNOWLEDGE_HEADER,
        "row": (
            str(scores.cases),
            str(scores.failed),
            f"{scores.cite_rate:.0%}",
            f"{scores.right_citation_rate:.0%}",
            f"{scores.right_given_rate:.0%}",
            "—" if when is None else f"{when:.0%}",
        ),
        "cases": [
            {
                "id": answer.case,
                "expected": answer.expected,
                "cited": ", ".join(f"[{n}] {answer.given[n - 1]}" for n in answer.citations),
                "cites_right": answer.cites_right,
                "right_given": answer.right_given,
                "error": answer.error,
                "answer": answer_html(answer.answer),
            }
            for answer in answers
        ],
    }


def html_report(
    results: list[CaseResult],
    rows: list[Row],
    meta: dict[str, object],
    *,
    images: str,
    knowledge: list[CitedAnswer] | None = None,
) -> str:
    """The whole report as one HTML page; screenshots are linked from `images`/."""
    return _TEMPLATES.get_template("report.html.jinja").render(
        settings=_settings_rows(meta),
        header=HEADER,
        rows=[_cells(row) for row in rows],
        cases=[_case_view(result, images) for result in results],
        images=images,
        knowledge=_knowledge_view(knowledge),
    )


def write_report(
    directory: Path,
    eval_set: EvalSet,
    results: list[CaseResult],
    rows: list[Row],
    meta: dict[str, object],
    *,
    knowledge: list[CitedAnswer] | None = None,
) -> tuple[Path, Path]:
    """Write `results.json`, `report.html` and the screenshots it shows into `directory`;
    with `knowledge`, the knowledge cases' citations too."""
    directory.mkdir(parents=True, exist_ok=True)
    images = directory / "images"
    images.mkdir(exist_ok=True)
    for result in results:
        with resources.as_file(eval_set.image(result.case)) as source:
            shutil.copyfile(source, images / result.image)
    json_path = directory / "results.json"
    json_path.write_text(to_json(results, rows, meta, knowledge), "utf-8")
    html_path = directory / "report.html"
    page = html_report(results, rows, meta, images="images", knowledge=knowledge)
    html_path.write_text(page, "utf-8")
    return json_path, html_path


def legibility_table(
    eval_set: EvalSet, rules: list[ResizeRule], *, cases: list[EvalCase] | None = None
) -> str:
    """For each pixel cap: cases whose smallest line falls under the threshold, and token cost.

    Over `cases` (those the options chose), or the whole set.
    """
    from bot.evaluation.legibility import legibility

    lines = [
        f"smallest text line after the resize; flagged below {MIN_LEGIBLE_PX:g} px",
        f"{'MAX_IMAGE_PIXELS':>16}  {'flagged':>8}  {'min px':>7}  {'median px':>9}  "
        f"{'median tokens':>13}  {'max tokens':>10}",
    ]
    for rule in rules:
        seen = [
            legibility(
                rule,
                width=r.width,
                height=r.height,
                smallest_line_px=r.smallest_line_px,
            )
            for r in (eval_set.rendered[c.id] for c in (eval_set.cases if cases is None else cases))
        ]
        heights = [s.input_line_px for s in seen]
        tokens = [s.tokens for s in seen]
        lines.append(
            f"{rule.max_pixels:>16,}  {sum(s.too_small for s in seen):>5}/{len(seen):<2}  "
            f"{min(heights):>7.1f}  {statistics.median(heights):>9.1f}  "
            f"{statistics.median(tokens):>13.0f}  {max(tokens):>10}"
        )
    return "\n".join(lines)
