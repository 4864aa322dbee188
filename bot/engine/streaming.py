"""Turn generated token ids into text pieces as soon as they decode cleanly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch
from transformers import StoppingCriteria
from transformers.generation.streamers import BaseStreamer


class TextPieceStreamer(BaseStreamer):
    """Calls `emit` with each new piece of decoded text.

    Holds back a piece that ends in a partial UTF-8 character (decoded as U+FFFD),
    and restarts its decode window after each newline so the cost stays linear.
    """

    def __init__(self, tokenizer: Any, emit: Callable[[str], None]) -> None:
        self._tokenizer = tokenizer
        self._emit = emit
        self._prompt_seen = False
        self._tokens: list[int] = []
        self._emitted = 0

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() hands over the prompt first
            self._prompt_seen = True
            return
        self._tokens.extend(int(token) for token in value.reshape(-1).tolist())
        text = self._tokenizer.decode(self._tokens, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return
        self._flush(text)
        if text.endswith("\n"):
            self._tokens, self._emitted = [], 0

    def end(self) -> None:
        if self._tokens:
            self._flush(self._tokenizer.decode(self._tokens, skip_special_tokens=True))
        self._tokens, self._emitted = [], 0

    def _flush(self, text: str) -> None:
        piece = text[self._emitted :]
        if piece:
            self._emit(piece)
            self._emitted = len(text)


class StopWhenCancelled(StoppingCriteria):
    """Stops generation once the consumer has gone away."""

    def __init__(self, cancelled: threading.Event) -> None:
        self._cancelled = cancelled

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> Any:
        return torch.full(
            (input_ids.shape[0],),
            self._cancelled.is_set(),
            dtype=torch.bool,
            device=input_ids.device,
        )
