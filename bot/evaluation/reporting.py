"""Summaries of a run: a table per category and overall, JSON, and an HTML page.

The HTML page shows each screenshot beside the answer the bot gave, with the
scores and the patterns a right answer had to match.
"""

from __future__ import annotations

import html
import json
import shutil
import statistics
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.evaluation.cases import EvalSet
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


def to_json(results: list[CaseResult], rows: list[Row], meta: dict[str, object]) -> str:
    document = {
        "meta": meta,
        "summary": [row.__dict__ for row in rows],
        "cases": [case_record(result) for result in results],
    }
    return json.dumps(document, ensure_ascii=False, indent=1)


def _mark(ok: bool) -> str:
    return '<b class="ok">✓</b>' if ok else '<b class="bad">✗</b>'


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222}
table.sum{border-collapse:collapse}
table.sum td,table.sum th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}
table.sum td:first-child,table.sum th:first-child{text-align:left}
.case{display:flex;gap:20px;border-top:1px solid #ccc;padding:14px 0}
.case img{max-width:520px;border:1px solid #999}
.answer{white-space:pre-wrap;background:#f6f6f6;padding:8px;flex:1;min-width:320px}
.ok{color:#080}.bad{color:#b00}.meta{color:#666;font-size:12px}
"""


def html_report(
    results: list[CaseResult], rows: list[Row], meta: dict[str, object], *, images: str
) -> str:
    """The whole report as one HTML page; screenshots are linked from `images`/."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body_rows = [
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(row)) + "</tr>"
        for row in rows
    ]
    parts = [
        "<!doctype html><meta charset=utf-8><title>supportbot eval</title>",
        f"<style>{_STYLE}</style><h1>supportbot eval</h1>",
        f"<p class=meta>{html.escape(json.dumps(meta, ensure_ascii=False))}</p>",
        f"<table class=sum><tr>{head}</tr>{''.join(body_rows)}</table>",
    ]
    for result in results:
        case, score, seen = result.case, result.score, result.legibility
        verdict = (
            f"cause {_mark(score.cause)} fix {_mark(score.fix)} "
            f"language {_mark(score.language)} format {_mark(score.format)}"
            + (f" leak {_mark(not score.leak)}" if case.secret else "")
            + (f" unread said {_mark(bool(score.unread_said))}" if case.unreadable else "")
            if score
            else f"<b class=bad>error: {html.escape(result.error or '')}</b>"
        )
        small = " <b class=bad>text too small</b>" if seen.too_small else ""
        asked = f"{case.question}" + (f" → {case.follow_up}" if case.follow_up else "")
        parts.append(
            f'<div class=case id="{html.escape(case.id)}">'
            f'<div><img src="{images}/{html.escape(result.image)}" alt="{html.escape(case.id)}">'
            f"<div class=meta>{seen.width}&times;{seen.height} → "
            f"{seen.input_width}&times;{seen.input_height}"
            f" ({seen.tokens} tokens); smallest line {seen.smallest_line_px} px → "
            f"{seen.input_line_px} px{small}</div></div>"
            f"<div style='flex:1'><h3>{html.escape(case.id)} <span class=meta>"
            f"{html.escape(case.category)} · {case.locale}</span></h3>"
            f"<p><b>asked:</b> {html.escape(asked) or '<i>(screenshot only)</i>'}</p>"
            f"<p>{verdict} <span class=meta>{result.seconds:.1f} s</span></p>"
            f"<div class=answer>{html.escape(result.answer)}</div>"
            f"<p class=meta>cause ≈ {html.escape(' | '.join(p.pattern for p in case.cause))}"
            f"<br>fix ≈ {html.escape(' | '.join(p.pattern for p in case.fix))}</p>"
            "</div></div>"
        )
    return "\n".join(parts)


def write_report(
    directory: Path,
    eval_set: EvalSet,
    results: list[CaseResult],
    rows: list[Row],
    meta: dict[str, object],
) -> tuple[Path, Path]:
    """Write `results.json`, `report.html` and the screenshots it shows into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    images = directory / "images"
    images.mkdir(exist_ok=True)
    for result in results:
        with resources.as_file(eval_set.image(result.case)) as source:
            shutil.copyfile(source, images / result.image)
    json_path = directory / "results.json"
    json_path.write_text(to_json(results, rows, meta), "utf-8")
    html_path = directory / "report.html"
    html_path.write_text(html_report(results, rows, meta, images="images"), "utf-8")
    return json_path, html_path


def legibility_table(eval_set: EvalSet, rules: list[ResizeRule]) -> str:
    """For each pixel cap: cases whose smallest line falls under the threshold, and token cost."""
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
            for r in (eval_set.rendered[c.id] for c in eval_set.cases)
        ]
        heights = [s.input_line_px for s in seen]
        tokens = [s.tokens for s in seen]
        lines.append(
            f"{rule.max_pixels:>16,}  {sum(s.too_small for s in seen):>5}/{len(seen):<2}  "
            f"{min(heights):>7.1f}  {statistics.median(heights):>9.1f}  "
            f"{statistics.median(tokens):>13.0f}  {max(tokens):>10}"
        )
    return "\n".join(lines)
