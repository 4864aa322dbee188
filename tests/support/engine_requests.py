"""Requests for engine tests: a question, optionally with a rendered error screenshot."""

from __future__ import annotations

from bot.engine import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from tests.support.screenshots import render_error_screenshot


def fixed_length_request(
    question: str, tokens: int, *, size: tuple[int, int] | None = None
) -> GenerationRequest:
    """Asks `question` (about a screenshot of `size`, if given) for exactly `tokens` tokens."""
    parts: tuple[ImagePart | TextPart, ...] = (TextPart(question),)
    if size is not None:
        parts = (ImagePart(render_error_screenshot(size=size)), *parts)
    return GenerationRequest(
        messages=(
            ChatMessage(Role.SYSTEM, (TextPart("You diagnose errors."),)),
            ChatMessage(Role.USER, parts),
        ),
        max_new_tokens=tokens,
        min_new_tokens=tokens,
    )
