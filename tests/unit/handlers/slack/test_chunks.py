from __future__ import annotations

import re

from handlers.slack.chunks import split_message


def test_short_text_is_one_message() -> None:
    assert split_message("short answer") == ["short answer"]


def test_long_text_is_split_under_the_limit_without_losing_words() -> None:
    words = [f"word{i}" for i in range(3000)]
    pieces = split_message(" ".join(words), limit=500)
    assert all(len(p) <= 500 for p in pieces)
    assert " ".join(pieces).split() == words


def test_code_block_cut_in_two_is_closed_and_reopened() -> None:
    code = "\n".join(f"print({i})" for i in range(200))
    text = f"Run this:\n```\n{code}\n```\nThen restart."
    pieces = split_message(text, limit=300)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= 300
        assert piece.count("```") % 2 == 0, piece
    lines = [line for p in pieces for line in p.splitlines() if re.fullmatch(r"print\(\d+\)", line)]
    assert lines == code.splitlines()
    assert pieces[-1].endswith("Then restart.")
