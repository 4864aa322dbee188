"""Text attachments: detected by content, decoded, and cut keeping what a reader needs."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.attachments.text_files import decode_text, excerpt, fit_tokens

TRACE = "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\nKeyError: 'x'"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TRACE.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TRACE.encode("utf-8"), "utf-8"),
        (TRACE.encode("utf-16"), "utf-16"),  # with its byte-order mark
        (TRACE.encode("utf-16-le"), "utf-16"),  # Windows tools often leave it out
        (TRACE.encode("utf-16-be"), "utf-16"),
        ("错误：数据库连接失败\n原因: 超时".encode("gb18030"), "gb18030"),
        ("错误：数据库连接失败".encode(), "utf-8"),
    ],
)
def test_text_is_recognised_by_its_content_in_each_encoding(data: bytes, encoding: str) -> None:
    decoded = decode_text(data)
    assert decoded is not None
    text, found = decoded
    assert found == encoding
    assert text in (TRACE, "错误：数据库连接失败\n原因: 超时", "错误：数据库连接失败")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"PK\x03\x04\x14\x00\x00\x00",
        b"\x7fELF\x02\x01\x01" + bytes(range(256)),
        bytes(range(256)) * 4,
        b"\x1f\x8b\x08\x00" + bytes(100),
    ],
)
def test_binary_files_are_not_text(data: bytes) -> None:
    assert decode_text(data) is None


def test_terminal_colours_and_windows_line_ends_are_removed() -> None:
    decoded = decode_text(b"\x1b[31mERROR\x1b[0m failed\r\nnext line\r\n")
    assert decoded == ("ERROR failed\nnext line\n", "utf-8")


# A leading U+FEFF is a byte-order mark, not text: it is the one character not kept.
PRINTABLE = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")))


@given(PRINTABLE.map(lambda text: text.lstrip("\ufeff")))
def test_any_printable_utf8_text_reads_back_unchanged(text: str) -> None:
    assert decode_text(text.encode("utf-8")) == (text, "utf-8")


def test_text_that_starts_with_two_letters_of_a_binary_format_is_still_text() -> None:
    assert decode_text(b"MZ marks a Windows executable") == (
        "MZ marks a Windows executable",
        "utf-8",
    )


def test_a_long_log_keeps_its_start_its_first_error_and_its_end_and_says_so() -> None:
    lines = [f"2026-11-30 12:00:{n % 60:02d} INFO step {n} ok" for n in range(5000)]
    lines[3210] = "Traceback (most recent call last):"
    lines[3211] = '  File "worker.py", line 88, in run'
    lines[3212] = "ConnectionResetError: [Errno 104] Connection reset by peer"
    cut = excerpt("\n".join(lines), max_chars=3000)
    assert cut.lines == 5000
    assert lines[0] in cut.text and lines[-1] in cut.text
    assert "ConnectionResetError" in cut.text and "Traceback" in cut.text
    assert "around the first error, line 3,211" in cut.cut and "(the end) of 5,000" in cut.cut
    assert "left out …]" in cut.text
    assert len(cut.text) < 3400


def test_a_short_file_is_kept_whole_and_a_huge_line_is_shortened_in_the_middle() -> None:
    assert excerpt(TRACE, max_chars=1000).cut == ""
    minified = '{"a": 1, ' + '"k": "v", ' * 5000 + '"error": "boom"}'
    cut = excerpt(minified, max_chars=2000)
    assert cut.text.startswith('{"a": 1,') and cut.text.endswith('"error": "boom"}')
    assert "characters left out" in cut.text and "shortened" in cut.cut


@given(st.integers(min_value=1, max_value=3000), st.integers(min_value=200, max_value=5000))
def test_an_excerpt_always_keeps_the_last_line(count: int, budget: int) -> None:
    lines = [f"line {n}" for n in range(count)]
    cut = excerpt("\n".join(lines), max_chars=budget)
    assert cut.text.endswith(lines[-1])
    assert len(cut.text) <= budget + 200  # the gap markers are the only overshoot


def test_the_token_budget_is_met_with_the_real_count() -> None:
    cjk = "\n".join(f"数据库连接失败，正在重试第 {n} 次" for n in range(3000))

    def one_token_per_character(text: str) -> int:
        return len(text)

    cut = fit_tokens(cjk, max_tokens=1000, count=one_token_per_character)
    assert one_token_per_character(cut.text) <= 1000
    assert cut.cut and "第 2999 次" in cut.text
