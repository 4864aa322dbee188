"""Each error says what its user reads, in both languages, from one place."""

from __future__ import annotations

import pytest

from bot.errors import (
    AttachmentRefused,
    BotError,
    ConfigError,
    EngineBusy,
    GenerationFailed,
    GenerationTimeout,
    ModelUnavailable,
    QueueTimeout,
    first_line,
)
from bot.messages import Language, Message, say


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ModelUnavailable("not loaded"), Message.MODEL_UNAVAILABLE),
        (QueueTimeout("late"), Message.QUEUE_TIMEOUT),
        (GenerationTimeout("slow"), Message.GENERATION_TIMEOUT),
        (GenerationFailed("broke"), Message.GENERATION_FAILED),
    ],
)
@pytest.mark.parametrize("language", list(Language))
def test_engine_errors_read_as_their_own_sentence(
    error: BotError, expected: Message, language: Language
) -> None:
    assert error.user_message(language) == say(expected, language)


def test_busy_says_when_to_come_back() -> None:
    assert "45" in EngineBusy(retry_after=45).user_message(Language.ENGLISH)
    assert "45" in EngineBusy(retry_after=45).user_message(Language.CHINESE)


def test_an_error_without_its_own_sentence_gets_the_apology_with_a_reference() -> None:
    text = ConfigError("REDIS_URL is invalid").user_message(Language.ENGLISH)
    assert text == say(Message.INTERNAL_ERROR, Language.ENGLISH, reference="ConfigError")
    assert "REDIS_URL" not in text, "operators' details stay in the log"


def test_an_attachment_error_names_the_file_and_the_reason() -> None:
    error = AttachmentRefused("trace.png", Message.REASON_TOO_LARGE, limit_mb=20)
    text = error.user_message(Language.ENGLISH)
    assert "trace.png" in text
    assert say(Message.REASON_TOO_LARGE, Language.ENGLISH, limit_mb=20) in text


def test_an_error_in_one_line_is_its_type_and_its_first_line() -> None:
    assert first_line(OSError("Connection refused\nat 127.0.0.1:6379")) == (
        "OSError: Connection refused"
    )
    assert first_line(RuntimeError("  \n weights are\ncorrupt")) == "RuntimeError: weights are"
    assert first_line(TimeoutError()) == "TimeoutError"
