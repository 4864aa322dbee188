"""Turn generated token ids into text pieces as soon as they decode cleanly.

Incremental, as Text Generation Inference and vLLM detokenize: each token
decodes only a short window (the tokens since the last emitted piece, plus
the few before them that give the tokenizer its context), so the cost per
token stays flat however long the line or the answer grows.
"""

from __future__ import annotations

from typing import Any

# Tokens of context kept before the unread ones: byte-level BPE needs the
# previous token or two to decode a merge or a multi-byte character cleanly.
CONTEXT_TOKENS = 5
# How many shorter windows a held-back piece tries before waiting for the next token.
SETTLED_SEARCH_TOKENS = 8


class TextPieces:
    """Decodes one answer token by token.

    Holds back a piece that ends in a partial UTF-8 character (decoded as U+FFFD)
    until the tokens that complete it arrive. A byte that never completes (a model
    can emit one) holds back only itself: the text before the last clean boundary
    still goes out, so the answer keeps growing.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._tokens: list[int] = []
        self._prefix = 0  # where the context window starts
        self._read = 0  # tokens up to here are emitted

    def _decode(self, tokens: list[int]) -> str:
        return str(self._tokenizer.decode(tokens, skip_special_tokens=True))

    def push(self, token: int) -> str:
        """The new text `token` completes; empty while a character is unfinished."""
        self._tokens.append(token)
        before = self._decode(self._tokens[self._prefix : self._read])
        text = self._decode(self._tokens[self._prefix :])
        end = len(self._tokens)
        if len(text) <= len(before):
            return ""
        if text.endswith("\ufffd"):
            end, text = self._settled(len(before))
            if end == 0:
                return ""
        piece = text[len(before) :]
        self._read = end
        self._prefix = max(0, self._read - CONTEXT_TOKENS)
        if self._prefix > 4 * CONTEXT_TOKENS:  # keep the list short on long answers
            del self._tokens[: self._prefix]
            self._read -= self._prefix
            self._prefix = 0
        return piece

    def _settled(self, emitted: int) -> tuple[int, str]:
        """The longest window that decodes to complete characters past `emitted`, and its
        text; (0, "") when none of the last few does. Bytes before a clean boundary never
        change with later ones (UTF-8 resynchronises), so that text is final."""
        lowest = max(self._read + 1, len(self._tokens) - SETTLED_SEARCH_TOKENS)
        for end in range(len(self._tokens) - 1, lowest - 1, -1):
            text = self._decode(self._tokens[self._prefix : end])
            if len(text) > emitted and not text.endswith("\ufffd"):
                return end, text
        return 0, ""

    def flush(self) -> str:
        """Whatever is left at the end of the answer."""
        if self._read == len(self._tokens):
            return ""
        before = self._decode(self._tokens[self._prefix : self._read])
        text = self._decode(self._tokens[self._prefix :])
        self._tokens, self._prefix, self._read = [], 0, 0
        return text[len(before) :]
