"""Put each case to the real `Diagnoser`, as a user in a fresh thread would, and score the answer.

Nothing is short-cut: the screenshot is read by the same fetcher and image checks,
the prompt is built with the thread's history rules, the engine sizes the image,
and the answer is the one the output filters let through.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.conversation.diagnosis import AnswerPiece, Diagnoser, Diagnosis
from bot.conversation.turns import AttachmentRef, ThreadKey, Turn
from bot.evaluation.cases import EvalCase, EvalSet
from bot.evaluation.legibility import Legibility, ResizeRule, legibility
from bot.evaluation.scoring import Score, score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseResult:
    """One case's answer and how it scored; `error` when it could not be answered."""

    case: EvalCase
    image: str
    legibility: Legibility
    answer: str = ""
    skipped: tuple[str, ...] = ()  # attachments the bot could not read, with its reason
    turns: int = 0  # questions asked in the thread (2 when the case has a follow-up)
    score: Score | None = None
    first_piece_seconds: float | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class _Answered:
    answer: str
    skipped: tuple[str, ...]
    first_piece_seconds: float | None
    seconds: float


async def _ask(diagnoser: Diagnoser, turn: Turn) -> _Answered:
    started = time.perf_counter()
    first: float | None = None
    async for event in diagnoser.diagnose(turn):
        if isinstance(event, AnswerPiece) and first is None:
            first = time.perf_counter() - started
        elif isinstance(event, Diagnosis):
            return _Answered(
                event.answer,
                tuple(f"{s.filename}: {s.reason}" for s in event.skipped),
                first,
                time.perf_counter() - started,
            )
    raise RuntimeError("the diagnosis ended without an answer")


# A Windows minidump's signature and header-like bytes: neither an image nor text.
_DUMP = b"MDMP\x93\xa7\x00\x00" + bytes(range(256)) * 16


def _unreadable_files(case: EvalCase, folder: Path) -> tuple[AttachmentRef, ...]:
    """The case's binary attachments, written where the local fetcher can read them."""
    refs = []
    for name in case.unreadable:
        path = folder / name
        path.write_bytes(_DUMP)
        refs.append(AttachmentRef(filename=name, url=str(path)))
    return tuple(refs)


async def run_case(
    diagnoser: Diagnoser, eval_set: EvalSet, case: EvalCase, rule: ResizeRule
) -> CaseResult:
    """Ask `case` in its own thread; a follow-up, when the case has one, is what is scored."""
    rendered = eval_set.rendered[case.id]
    seen = legibility(
        rule,
        width=rendered.width,
        height=rendered.height,
        smallest_line_px=rendered.smallest_line_px,
    )
    thread = ThreadKey("eval", case.category, case.id)
    try:
        with (
            resources.as_file(eval_set.image(case)) as path,
            tempfile.TemporaryDirectory(prefix="supportbot-eval-") as scratch,
        ):
            first = Turn(
                thread=thread,
                user_id="eval",
                text=case.question,
                message_ts="1",
                attachments=(
                    AttachmentRef(filename=rendered.file, url=str(path)),
                    *_unreadable_files(case, Path(scratch)),
                ),
                language=case.language,
            )
            answered = await _ask(diagnoser, first)
        if case.follow_up:
            follow_up = Turn(
                thread=thread,
                user_id="eval",
                text=case.follow_up,
                message_ts="2",
                language=case.language,
            )
            answered = await _ask(diagnoser, follow_up)
    except Exception as error:  # one case failing must not end the run; it is reported
        log.exception("eval case %s failed", case.id)
        return CaseResult(case, rendered.file, seen, error=f"{type(error).__name__}: {error}")
    return CaseResult(
        case,
        rendered.file,
        seen,
        answer=answered.answer,
        skipped=answered.skipped,
        score=score(case, answered.answer),
        first_piece_seconds=answered.first_piece_seconds,
        seconds=answered.seconds,
        turns=2 if case.follow_up else 1,
    )


async def run_cases(
    diagnoser: Diagnoser,
    eval_set: EvalSet,
    cases: list[EvalCase],
    rule: ResizeRule,
    *,
    progress: Callable[[int, int, EvalCase], None] | None = None,
) -> list[CaseResult]:
    """Every case in order, one at a time (latency is per answer, not under load)."""
    results: list[CaseResult] = []
    for done, case in enumerate(cases):
        if progress is not None:
            progress(done, len(cases), case)
        results.append(await run_case(diagnoser, eval_set, case, rule))
    if progress is not None and cases:
        progress(len(cases), len(cases), cases[-1])
    return results
