"""Turn generated token ids into text pieces as soon as they decode cleanly."""

from __future__ import annotations

from typing import Any


class TextPieces:
    """Decodes one answer token by token.

    Holds back a piece that ends in a partial UTF-8 character (decoded as U+FFFD),
    and restarts its decode window after each newline so the cost stays linear.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._tokens: list[int] = []
        self._emitted = 0

    def push(self, token: int) -> str:
        """The new text `token` completes; empty while a character is unfinished."""
        self._tokens.append(token)
        text = str(self._tokenizer.decode(self._tokens, skip_special_tokens=True))
        if text.endswith("\ufffd"):
            return ""
        piece = text[self._emitted :]
        self._emitted = len(text)
        if text.endswith("\n"):
            self._tokens, self._emitted = [], 0
        return piece

    def flush(self) -> str:
        """Whatever is left at the end of the answer."""
        if not self._tokens:
            return ""
        text = str(self._tokenizer.decode(self._tokens, skip_special_tokens=True))
        piece = text[self._emitted :]
        self._tokens, self._emitted = [], 0
        return piece
