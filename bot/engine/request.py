"""What the engine is asked: chat messages with text and image parts.

These types are all the engine knows of the rest of the bot, so `bot.engine`
stays importable with nothing but torch and transformers installed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image in its original encoding (PNG, JPEG, GIF or WebP bytes)."""

    data: bytes
    name: str = "image"
    width: int = 0  # 0 when unknown; the engine then reads the size from the header
    height: int = 0


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    parts: tuple[TextPart | ImagePart, ...]

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(part for part in self.parts if isinstance(part, ImagePart))

    @property
    def text(self) -> str:
        """The message's text parts, in order, without its images."""
        return "".join(part.text for part in self.parts if isinstance(part, TextPart))


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to complete.

    Args:
        messages: the conversation, system prompt first.
        max_new_tokens: cap for this request; the engine's default when None.
        queue_timeout: seconds it may wait for the model before `QueueTimeout`.
        generation_timeout: seconds its answer may take before `GenerationTimeout`.
        min_new_tokens: the answer is at least this long (benchmarks; None for answers).
        request_id: for logs and cancellation.
        reuse_key: names the conversation (a Slack thread, a ticket); the engine keeps
            what it computed for this answer so the next request with the same key
            does not recompute the shared beginning. None: nothing is kept.
        greedy: always the likeliest token (a transcription, not an answer); otherwise
            the model's generation config decides whether to sample.
    """

    messages: tuple[ChatMessage, ...]
    max_new_tokens: int | None = None
    queue_timeout: float | None = None
    generation_timeout: float | None = None
    min_new_tokens: int | None = None  # benchmarks fix output length with it
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    reuse_key: str | None = None
    greedy: bool = False

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(image for message in self.messages for image in message.images)


@dataclass(frozen=True)
class Queued:
    """Yielded by `Engine.stream` while the request waits: `ahead` requests are before it."""

    ahead: int
