"""The use case with real parts: tiny engine, in-memory history, local files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.attachments.fetching import LocalFileFetcher
from bot.conversation.diagnosis import (
    AnswerPiece,
    AttachmentsRead,
    Diagnoser,
    Diagnosis,
    DiagnosisEvent,
)
from bot.conversation.prompting import PromptBuilder
from bot.conversation.turns import AttachmentRef, Speaker, ThreadKey, Turn
from bot.engine.transformers_engine import TransformersEngine
from bot.safety.filters import RedactingFilter
from bot.safety.redaction import Redactor
from bot.stores.history import InMemoryHistoryStore
from tests.support.screenshots import render_error_screenshot

pytestmark = pytest.mark.slow

THREAD = ThreadKey("T1", "C1", "1.1")


def _diagnoser(
    engine: TransformersEngine, history: InMemoryHistoryStore, max_images: int = 8
) -> Diagnoser:
    return Diagnoser(
        engine=engine,
        history=history,
        fetcher=LocalFileFetcher(max_bytes=10**6),
        prompts=PromptBuilder(max_new_tokens=8),
        reply_filter=RedactingFilter(Redactor()),
        max_images_per_turn=max_images,
    )


async def _run(diagnoser: Diagnoser, turn: Turn) -> list[DiagnosisEvent]:
    return [event async for event in diagnoser.diagnose(turn)]


async def test_every_attachment_is_read_or_named_with_a_reason(
    tiny_engine: TransformersEngine, tmp_path: Path
) -> None:
    good = tmp_path / "err.png"
    good.write_bytes(render_error_screenshot())
    text = tmp_path / "trace.txt"
    text.write_text("Traceback ...")
    refs = [AttachmentRef(p.name, str(p)) for p in (good, text, good, good)]
    history = InMemoryHistoryStore()
    events = await _run(
        _diagnoser(tiny_engine, history, max_images=3),
        Turn(THREAD, "U1", "what is this?", "1.1", tuple(refs)),
    )

    read = events[0]
    assert isinstance(read, AttachmentsRead)
    assert read.screenshots == 2
    assert [(s.filename, s.reason) for s in read.skipped] == [
        ("err.png", "only the first 3 images of a message are read."),
        ("trace.txt", "it is not a PNG, JPEG, GIF or WebP image."),
    ]
    final = events[-1]
    assert isinstance(final, Diagnosis)
    assert (
        final.answer == "".join(e.text for e in events if isinstance(e, AnswerPiece)).strip()
        or final.answer
    )
    stored = await history.load(THREAD)
    assert [e.speaker for e in stored] == [Speaker.USER, Speaker.ASSISTANT]
    assert len(stored[0].screenshots) == 2
    assert stored[1].text == final.answer


async def test_a_screenshot_without_a_question_gets_the_default_question(
    tiny_engine: TransformersEngine, tmp_path: Path
) -> None:
    shot = tmp_path / "only.png"
    shot.write_bytes(render_error_screenshot())
    history = InMemoryHistoryStore()
    await _run(
        _diagnoser(tiny_engine, history),
        Turn(THREAD, "U1", "", "1.1", (AttachmentRef("only.png", str(shot)),)),
    )
    [question, _] = await history.load(THREAD)
    assert question.text == "What is wrong and how do I fix it?"
