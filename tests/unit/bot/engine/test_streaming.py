"""The incremental detokenizer gives exactly the text of decoding the whole answer at once."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from bot.engine.streaming import CONTEXT_TOKENS, TextPieces


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint: Any) -> Any:
    return AutoTokenizer.from_pretrained(tiny_checkpoint)


TEXTS = st.text(
    alphabet=st.sampled_from(list("ab \n\t{}()é中文😀\u200b\ufeffx1-_")), min_size=0, max_size=80
)


def _streamed(tokenizer: Any, tokens: list[int]) -> tuple[str, list[str]]:
    pieces = TextPieces(tokenizer)
    out = [pieces.push(token) for token in tokens]
    out.append(pieces.flush())
    return "".join(out), out


@settings(max_examples=60, deadline=None)
@given(text=TEXTS)
def test_pieces_join_to_the_whole_decode(tokenizer: Any, text: str) -> None:
    tokens = tokenizer(text)["input_ids"]
    joined, pieces = _streamed(tokenizer, tokens)
    assert joined == tokenizer.decode(tokens, skip_special_tokens=True)
    assert not any(piece.endswith("\ufffd") for piece in pieces[:-1])


def test_a_character_split_over_tokens_is_held_back_until_complete(tokenizer: Any) -> None:
    tokens = tokenizer("😀😀 中文")["input_ids"]
    joined, pieces = _streamed(tokenizer, tokens)
    assert joined == "😀😀 中文"
    assert all("\ufffd" not in piece for piece in pieces)


def test_a_long_answer_keeps_the_window_short(tokenizer: Any) -> None:
    tokens = tokenizer("word " * 2000)["input_ids"]
    pieces = TextPieces(tokenizer)
    out: list[str] = []
    longest = 0
    for token in tokens:
        out.append(pieces.push(token))
        longest = max(longest, len(pieces._tokens))  # what each push decodes at most
    assert "".join(out) + pieces.flush() == "word " * 2000
    assert longest <= 5 * CONTEXT_TOKENS + 1


def test_a_byte_that_never_completes_holds_back_only_itself(tokenizer: Any) -> None:
    # A lone UTF-8 lead byte (byte-level BPE spells 0xE4 as "ä") that no continuation
    # follows, as a model can emit: the text after it must still stream.
    stray = tokenizer.convert_tokens_to_ids("\u00e4")
    assert stray != tokenizer.unk_token_id
    tokens = [stray, *tokenizer("import numpy as np and more words")["input_ids"]] * 3
    joined, pieces = _streamed(tokenizer, tokens)
    assert joined == tokenizer.decode(tokens, skip_special_tokens=True)
    assert "\ufffd" in joined
    assert sum(1 for piece in pieces[:-1] if piece) >= 3, "the answer grew before its end"
