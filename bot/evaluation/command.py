"""`supportbot eval`: choose cases, run them through a built `Diagnoser`, report.

The CLI builds the engine and the diagnoser with the composition root's own
functions and hands them in; nothing here builds a part of the bot.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.conversation.diagnosis import Diagnoser
from bot.evaluation.cases import EvalCase, EvalSet, load_set, select
from bot.evaluation.knowledge_answers import (
    ask_knowledge_cases,
    citation_table,
    summarise_citations,
)
from bot.evaluation.knowledge_eval import load_cases
from bot.evaluation.legibility import ResizeRule, qwen3_vl_rule
from bot.evaluation.reporting import (
    legibility_split,
    legibility_table,
    summarise,
    table,
    write_report,
)
from bot.evaluation.running import run_cases
from bot.messages import Language

_LANGUAGES = {"en": Language.ENGLISH, "zh-CN": Language.CHINESE, "zh": Language.CHINESE}
LEGIBILITY_CAPS = (512 * 512, 1024 * 768, 1280 * 1024, 1920 * 1080, 2560 * 1600, 4096 * 2160)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `eval` subcommand's options."""
    parser.add_argument("--limit", type=int, default=None, help="run at most this many cases")
    parser.add_argument(
        "--category", action="append", default=[], help="only this category (repeatable)"
    )
    parser.add_argument(
        "--language",
        action="append",
        default=[],
        choices=sorted(_LANGUAGES),
        help="only cases whose user writes in this language (repeatable)",
    )
    parser.add_argument(
        "--case", action="append", default=[], help="only this case id (repeatable)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("eval-report"),
        help="folder for results.json, report.html and the screenshots (default: eval-report)",
    )
    parser.add_argument(
        "--legibility-only",
        action="store_true",
        help="no model: print how tall the smallest text line is at several MAX_IMAGE_PIXELS",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--knowledge-only",
        action="store_true",
        help=(
            "no chat model: index the sample knowledge base and print retrieval recall@1, "
            "recall@5 and MRR, words only beside hybrid (EMBEDDING_MODEL)"
        ),
    )
    parser.add_argument(
        "--knowledge",
        action="store_true",
        help=(
            "also ask the knowledge cases with the sample knowledge base as the bot's "
            "retriever and report how often answers cite, and cite the right document"
        ),
    )


@dataclass(frozen=True)
class Choice:
    cases: list[EvalCase]
    eval_set: EvalSet


def choose(args: argparse.Namespace) -> Choice:
    """The cases the options ask for; `ValueError` when none match or a name is unknown."""
    eval_set = load_set()
    known = {case.category for case in eval_set.cases}
    unknown = sorted(set(args.category) - known)
    if unknown:
        raise ValueError(
            f"unknown category {', '.join(unknown)}; one of {', '.join(sorted(known))}"
        )
    missing = [case.id for case in eval_set.cases if case.id not in eval_set.rendered]
    if missing:
        raise ValueError(f"not rendered: {', '.join(missing)} (python -m bot.evaluation.generate)")
    cases = select(
        eval_set.cases,
        categories=tuple(args.category),
        languages=tuple(_LANGUAGES[name] for name in args.language),
        ids=tuple(args.case),
        limit=args.limit,
    )
    if not cases:
        raise ValueError("no case matches these options")
    return Choice(cases, eval_set)


class ProgressBar:
    """One line on a terminal, redrawn in place; a line per case otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, *, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._started = time.perf_counter()
        self._tty = stream.isatty()

    def __call__(self, done: int, total: int, case: EvalCase | str) -> None:
        filled = round(self._width * done / total) if total else self._width
        bar = "#" * filled + "." * (self._width - filled)
        elapsed = time.perf_counter() - self._started
        label = "done" if done == total else case if isinstance(case, str) else case.id
        line = f"[{bar}] {done}/{total} {elapsed:6.1f}s {label}"
        if self._tty:
            self._stream.write("\r" + line.ljust(100)[:100] + ("\n" if done == total else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def print_legibility(choice: Choice, current: ResizeRule, out: TextIO = sys.stdout) -> None:
    """The legibility table over the chosen cases (`--limit`, `--category`, … apply)."""
    rules = [qwen3_vl_rule(cap) for cap in sorted({*LEGIBILITY_CAPS, current.max_pixels})]
    print(legibility_table(choice.eval_set, rules, cases=choice.cases), file=out)
    print(
        f"\n(resize as {current.source}; factor {current.factor}, min {current.min_pixels:,} px)",
        file=out,
    )


async def evaluate(
    args: argparse.Namespace,
    *,
    diagnoser: Diagnoser,
    rule: ResizeRule,
    meta: dict[str, object],
    choice: Choice,
    knowledge: Diagnoser | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Run the chosen cases, print the table, write the reports; 0 when every case answered.

    With `knowledge` (a diagnoser whose retriever holds the sample knowledge base) the
    knowledge cases are asked too, as many as `--limit` allows, and their citations scored.
    """
    progress = None if args.no_progress else ProgressBar()
    results = await run_cases(diagnoser, choice.eval_set, choice.cases, rule, progress=progress)
    rows = summarise(results)
    answers = None
    if knowledge is not None:
        cases = load_cases()[: args.limit]
        answers = await ask_knowledge_cases(
            knowledge, cases, progress=None if args.no_progress else ProgressBar()
        )
    meta = {
        **meta,
        "cases": len(results),
        "resize": {"source": rule.source, "factor": rule.factor, "max_pixels": rule.max_pixels},
        "python": platform.python_version(),
    }
    json_path, html_path = write_report(
        args.out, choice.eval_set, results, rows, meta, knowledge=answers
    )
    print(table(rows), file=out)
    print(legibility_split(results), file=out)
    if answers is not None:
        print("\n" + citation_table(summarise_citations(answers)), file=out)
    print(f"\nwrote {json_path} and {html_path}", file=out)
    failed = [r.case.id for r in results if r.error is not None]
    failed += [a.case for a in answers or () if a.error is not None]
    if failed:
        print(f"no answer for: {', '.join(failed)}", file=out)
    return 1 if failed else 0
