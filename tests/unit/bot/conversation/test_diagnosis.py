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

THREAD = ThreadKey.for_slack("T1", "C1", "1.1")


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
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    refs = [AttachmentRef(p.name, str(p)) for p in (good, text, binary, good, good)]
    history = InMemoryHistoryStore()
    events = await _run(
        _diagnoser(tiny_engine, history, max_images=4),
        Turn(THREAD, "U1", "what is this?", "1.1", tuple(refs)),
    )

    read = events[0]
    assert isinstance(read, AttachmentsRead)
    assert read.screenshots == 2
    assert [(s.filename, s.reason) for s in read.skipped] == [
        (
            "core.bin",
            "it is neither a PNG, JPEG, GIF or WebP image nor a text file "
            "(UTF-8, UTF-16 or GB 18030).",
        ),
        ("err.png", "only the first 4 files of a message are read."),
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
    assert [(a.filename, a.kind.value) for a in stored[0].attachments] == [
        ("err.png", "image"),
        ("trace.txt", "text"),
        ("core.bin", "unread"),
        ("err.png", "image"),
        ("err.png", "unread"),
    ]
    assert stored[0].attachments[1].text == "Traceback ..."
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


async def test_a_long_log_is_read_cut_redacted_and_counted_in_the_budget(
    tiny_engine: TransformersEngine, tmp_path: Path
) -> None:
    from bot.attachments.image_budget import ImageBudget
    from bot.engine import TextPart
    from tests.support.recording_engine import RecordingEngine

    lines = [f"INFO request {n} served in 12ms" for n in range(4000)]
    lines[100] = "DB_PASSWORD=hunter2hunter2 loaded from env"
    lines[2500] = "Traceback (most recent call last):"
    lines[2501] = "sqlalchemy.exc.OperationalError: connection refused"
    log_file = tmp_path / "worker.log"
    log_file.write_text("\n".join(lines), encoding="utf-16")
    shots = []
    for n in range(3):
        shot = tmp_path / f"shot{n}.png"
        shot.write_bytes(render_error_screenshot())
        shots.append(shot)
    recording = RecordingEngine(tiny_engine)
    history = InMemoryHistoryStore()
    diagnoser = Diagnoser(
        engine=recording,
        history=history,
        fetcher=LocalFileFetcher(max_bytes=10**7),
        prompts=PromptBuilder(max_new_tokens=8),
        reply_filter=RedactingFilter(Redactor()),
        image_budget=ImageBudget(per_image=400 * 100, total=3 * (400 * 100 * 3 // 4)),
        max_text_tokens=600,
    )
    refs = [AttachmentRef(p.name, str(p)) for p in (shots[0], log_file, shots[1], shots[2])]
    events = await _run(diagnoser, Turn(THREAD, "U1", "why?", "1.1", tuple(refs)))

    read = events[0]
    assert isinstance(read, AttachmentsRead) and read.skipped == ()
    assert any("worker.log" in n and "4,000 lines" in n for n in read.notices)
    assert [n for n in read.notices if "shot" in n] == [], "a quarter less is still legible"
    [request] = recording.requests
    words = request.messages[-1].parts[-1]
    assert isinstance(words, TextPart)
    assert "OperationalError: connection refused" in words.text
    assert "INFO request 3999 served" in words.text
    assert "hunter2" not in words.text
    assert diagnoser._count_text(words.text) <= 600 + 200
    stored = (await history.load(THREAD))[0]
    assert "hunter2" not in stored.attachments[1].text
    assert [a.filename for a in stored.attachments] == [
        "shot0.png",
        "worker.log",
        "shot1.png",
        "shot2.png",
    ]
    assert all(s.width * s.height <= 400 * 100 * 3 // 4 for s in stored.screenshots)
