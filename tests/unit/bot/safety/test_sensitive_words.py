from __future__ import annotations

import time
from pathlib import Path

from bot.safety.sensitive_words import SensitiveWords


def test_whole_words_only_for_latin_entries_anywhere_for_chinese() -> None:
    words = SensitiveWords(["ass", "机密"])
    assert words.spans("class pass ass") == [(11, 14)]
    assert words.spans("这是机密文件") == [(2, 4)]


def test_longest_entry_wins_at_one_position() -> None:
    words = SensitiveWords(["acme", "acme internal"])
    assert words.spans("see ACME Internal docs") == [(4, 17)]


def test_file_format_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("# banned\n\nproject phoenix\n  内部代号  \n", "utf-8")
    words = SensitiveWords.from_file(path)
    assert words.count == 2
    assert words.spans("Project Phoenix") == [(0, 15)]


def test_thousands_of_words_scan_quickly() -> None:
    words = SensitiveWords([f"codename{i:05d}" for i in range(5000)])
    text = "nothing to see here, " * 500 + "codename04999"
    started = time.perf_counter()
    spans = words.spans(text)
    elapsed = time.perf_counter() - started
    assert spans == [(len(text) - 13, len(text))]
    print(f"scanned {len(text)} chars against 5000 words in {elapsed * 1000:.1f} ms")
